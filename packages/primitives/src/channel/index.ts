/**
 * Go's channels and `select` for async TypeScript: `Channel<T>` (unbuffered rendezvous or
 * buffered, FIFO, close with drain, `for await` as `for range`), `select` with receive, send,
 * cancellation and default arms chosen uniformly at random, and `after`/`timer`/`tick` timer
 * channels driven by the injectable `Clock`.
 *
 * Rules: unbuffered sends complete at hand-off; values and blocked callers are served FIFO;
 * receives from a closed channel drain the buffer, then report `ok: false`; sending on or closing
 * a closed channel throws {@link ChannelClosedError}; an aborted operation, or a losing `select`
 * arm, leaves the channel untouched. Tight channel loops yield to the event loop every
 * {@link YIELD_EVERY} operations so timers and I/O are never starved.
 * @module
 */
export { Channel, type ChannelOptions, type ReceiveChannel, type RecvResult, type SendChannel } from './channel.js';
export { ChannelClosedError } from './errors.js';
export {
  doneCase,
  type MaybeSelectCase,
  recvCase,
  type SelectCase,
  type SelectOptions,
  type SelectResult,
  select,
  sendCase,
} from './select.js';
export { YIELD_EVERY } from './starvation-guard.js';
export { after, type Ticker, type Timer, type TimerOptions, tick, timer } from './timer.js';
