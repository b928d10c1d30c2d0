/**
 * Intrusive doubly linked FIFO of blocked operations: O(1) push, shift and removal of any node,
 * so an aborted or lost select case leaves its queue immediately instead of lingering as a
 * tombstone (a loop of `select` with a timeout on a quiet channel would otherwise grow without
 * bound).
 * @internal
 */
export abstract class Waiter<T> {
  prev: Waiter<T> | null = null;
  next: Waiter<T> | null = null;
  queue: WaitQueue<T> | null = null;
  /** For a sender: the value it offers. */
  value: T | undefined;

  constructor(value: T | undefined) {
    this.value = value;
  }

  /**
   * Completes the operation. Called by the counterparty after it has unlinked this waiter.
   * Receivers get `(value, ok)`; senders get `ok = true` when their value was taken and
   * `ok = false` when the channel closed under them.
   */
  abstract complete(value: T | undefined, ok: boolean): void;
}

/** @internal */
export class WaitQueue<T> {
  private head: Waiter<T> | null = null;
  private tail: Waiter<T> | null = null;
  size = 0;

  push(w: Waiter<T>): void {
    w.queue = this;
    w.prev = this.tail;
    w.next = null;
    if (this.tail === null) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    this.size++;
  }

  shift(): Waiter<T> | null {
    const w = this.head;
    if (w !== null) this.remove(w);
    return w;
  }

  /** Unlinks `w` if it is still in this queue; a no-op otherwise. */
  remove(w: Waiter<T>): void {
    if (w.queue !== this) return;
    if (w.prev === null) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = null;
    w.queue = null;
    this.size--;
  }
}
