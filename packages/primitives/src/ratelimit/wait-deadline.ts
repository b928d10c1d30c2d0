import { isContext, type WaitOptions } from '../context/index.js';

/** The deadline of a WaitOptions in ms since the epoch, or undefined. @internal */
export function deadlineOf(options: WaitOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  if (isContext(options)) return options.deadline()?.getTime();
  const d = options.deadline;
  return d instanceof Date ? d.getTime() : d;
}
