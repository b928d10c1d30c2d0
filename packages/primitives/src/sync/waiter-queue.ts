import type { Clock } from '../clock/index.js';
import { type WaitOptions, type WaitScope, waitSignal } from '../context/index.js';

/** One blocked caller. Linked in place so an abort unlinks it in O(1) wherever it sits. */
export interface Waiter<T> {
  prev: Waiter<T> | undefined;
  next: Waiter<T> | undefined;
  /** Tokens the waiter needs (Semaphore) or 0. */
  readonly weight: number;
  /** Kind of waiter (RWMutex: reader or writer) or 0. */
  readonly tag: number;
  /** Whatever the owner wants to run when the waiter is granted (ErrGroup: the task). */
  readonly payload: unknown;
  linked: boolean;
  resolve(value: T): void;
  reject(reason: unknown): void;
  scope: WaitScope | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Returns a rejected promise when `options` is already aborted (or its deadline passed), else
 * `undefined`. Checked on every fast path, so an aborted caller never takes a free resource.
 */
export function rejectIfAborted(options: WaitOptions | undefined, clock: Clock): Promise<never> | undefined {
  if (options === undefined) return undefined;
  const scope = waitSignal(options, clock);
  const signal = scope.signal;
  scope.dispose();
  return signal?.aborted ? Promise.reject(signal.reason) : undefined;
}

/**
 * Strict FIFO queue of blocked callers shared by the sync primitives. The owner decides who is
 * granted (by calling {@link WaiterQueue.grant}); the queue handles cancellation: an aborted
 * waiter is unlinked, its promise rejects with `signal.reason`, its deadline timer and signal
 * listener are released, and `onAbandon` lets the owner wake whoever the leaver was blocking.
 */
export class WaiterQueue<T> {
  head: Waiter<T> | undefined;
  tail: Waiter<T> | undefined;
  length = 0;

  /** Queues a caller; the promise settles when the owner grants it or `options` aborts. */
  enqueue(weight: number, tag: number, payload: unknown, options: WaitOptions | undefined, clock: Clock, onAbandon?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const node: Waiter<T> = {
        prev: undefined,
        next: undefined,
        weight,
        tag,
        payload,
        linked: false,
        resolve,
        reject,
        scope: undefined,
        onAbort: undefined,
      };
      if (options !== undefined) {
        const scope = waitSignal(options, clock);
        const signal = scope.signal;
        if (signal !== undefined) {
          if (signal.aborted) {
            scope.dispose();
            reject(signal.reason);
            return;
          }
          node.scope = scope;
          node.onAbort = () => {
            if (!node.linked) return;
            this.unlink(node);
            scope.dispose();
            reject(signal.reason);
            onAbandon?.();
          };
          signal.addEventListener('abort', node.onAbort, { once: true });
        } else {
          scope.dispose();
        }
      }
      this.link(node);
    });
  }

  /** Unlinks `node` and resolves its promise with `value`. */
  grant(node: Waiter<T>, value: T): void {
    this.unlink(node);
    const scope = node.scope;
    if (scope !== undefined) {
      scope.signal?.removeEventListener('abort', node.onAbort as () => void);
      scope.dispose();
      node.scope = undefined;
    }
    node.resolve(value);
  }

  private link(node: Waiter<T>): void {
    node.linked = true;
    node.prev = this.tail;
    if (this.tail === undefined) this.head = node;
    else this.tail.next = node;
    this.tail = node;
    this.length++;
  }

  private unlink(node: Waiter<T>): void {
    if (!node.linked) return;
    node.linked = false;
    if (node.prev === undefined) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = undefined;
    this.length--;
  }
}
