import { GopherkitError } from '@gopherkit/primitives/errors';

/**
 * An operator action ({@link Outbox.retry} / {@link Outbox.skip}) named a row that is not in the
 * state the action needs: retrying a published row would publish it twice, and skipping a
 * pending row would silently drop an event that is still deliverable.
 */
export class OutboxStateError extends GopherkitError {
  constructor(
    /** The outbox id the action named. */
    readonly id: string,
    message: string,
  ) {
    super('ERR_OUTBOX_STATE', message);
  }
}
