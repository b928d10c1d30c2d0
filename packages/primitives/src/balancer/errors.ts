import { GopherkitError } from '../errors/index.js';

/**
 * {@link Balancer.pick} found nothing to pick: the endpoint list is empty (`reason: 'empty'`, e.g.
 * discovery returned no instances) or every endpoint is ejected and none is due for its probe yet
 * (`reason: 'all-ejected'`; `retryAfterMs` says when the first probe becomes possible). The seed's
 * round robin indexes an empty list and panics instead (seed L4132–4145).
 */
export class NoEndpointAvailableError extends GopherkitError {
  readonly reason: 'empty' | 'all-ejected';
  /** Milliseconds until an ejected endpoint may be probed (`'all-ejected'` only). */
  readonly retryAfterMs: number | undefined;

  constructor(reason: 'empty' | 'all-ejected', endpoints: number, retryAfterMs?: number) {
    super(
      'ERR_NO_ENDPOINT_AVAILABLE',
      reason === 'empty'
        ? 'no endpoint available: the endpoint list is empty (call update() with at least one endpoint)'
        : `no endpoint available: all ${endpoints} endpoints are ejected after consecutive failures; the next probe is allowed in ${Math.ceil(retryAfterMs ?? 0)} ms`,
    );
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}
