import { GopherkitError } from '../errors/index.js';

/**
 * The channel was closed: thrown by `send`/`trySend` on a closed channel, by a second `close()`,
 * and used to reject senders that were blocked when the channel closed (Go panics in all three
 * cases; a rejected Promise is the TypeScript equivalent). Code `ERR_CHANNEL_CLOSED`.
 */
export class ChannelClosedError extends GopherkitError {
  constructor(message = 'send on closed channel') {
    super('ERR_CHANNEL_CLOSED', message);
  }
}
