import type { Context, WaitOptions } from '../context/index.js';

/** True when `options` is a Context (it carries its own deadline). @internal */
export function isContext(options: WaitOptions | undefined): options is Context {
  return options !== undefined && typeof (options as Context).deadline === 'function';
}

/** The deadline of a WaitOptions in ms since the epoch, or undefined. @internal */
export function deadlineOf(options: WaitOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  if (isContext(options)) return options.deadline()?.getTime();
  const d = options.deadline;
  return d instanceof Date ? d.getTime() : d;
}
