import { GopherkitError } from '../errors/index.js';

/**
 * `WaitGroup.add`/`done` would take the counter below zero: more `done()` calls than work added.
 * Go panics here (`sync: negative WaitGroup counter`) because the count can no longer be trusted
 * to say when the work is finished; the counter is left unchanged.
 */
export class NegativeWaitGroupCounterError extends GopherkitError {
  constructor(counter: number, delta: number) {
    super(
      'ERR_WAITGROUP_NEGATIVE',
      `WaitGroup counter must stay >= 0: add(${delta}) on a counter of ${counter} would make it ${counter + delta} (more done() calls than work added)`,
    );
  }
}
