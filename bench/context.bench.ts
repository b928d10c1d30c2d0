import { background, type Context, createContextKey, withCancel, withTimeout, withValue } from '@gopherkit/primitives/context';
import { defineSuite } from './harness/suite.js';

/** Builds a tree of `fanOut`^depth contexts under `parent` and returns how many it made. */
function tree(parent: Context, depth: number, fanOut: number, cancels: (() => void)[]): number {
  if (depth === 0) return 0;
  let n = 0;
  for (let i = 0; i < fanOut; i++) {
    const [c, cancel] = withCancel(parent);
    cancels.push(cancel);
    n += 1 + tree(c, depth - 1, fanOut, cancels);
  }
  return n;
}

/** The same tree with native AbortSignal.any (the closest built-in to a cancel cascade). */
function nativeTree(parent: AbortSignal, depth: number, fanOut: number, controllers: AbortController[]): void {
  if (depth === 0) return;
  for (let i = 0; i < fanOut; i++) {
    const ac = new AbortController();
    controllers.push(ac);
    nativeTree(AbortSignal.any([parent, ac.signal]), depth - 1, fanOut, controllers);
  }
}

export default defineSuite({
  reference: 'native: new AbortController + abort',
  inProcess: true,
  setup(b) {
    const bg = background();
    const key = createContextKey<number>('depth');
    let deep: Context = bg;
    for (let i = 0; i < 10; i++) deep = withValue(deep, createContextKey(`k${i}`), i);
    deep = withValue(deep, key, 10);
    for (let i = 0; i < 10; i++) deep = withValue(deep, createContextKey(`j${i}`), i);
    const nodes = 4 + 16 + 64; // depth 3, fan-out 4

    b.add('native: new AbortController + abort', () => {
      const ac = new AbortController();
      ac.abort();
    });
    b.add('withCancel + cancel', () => {
      const [, cancel] = withCancel(bg);
      cancel();
    });
    b.add('withCancel + signal + cancel', () => {
      const [ctx, cancel] = withCancel(bg);
      void ctx.signal;
      cancel();
    });
    b.add('withTimeout + cancel (timer cleared)', () => {
      const [, cancel] = withTimeout(bg, 60_000);
      cancel();
    });
    b.add(
      'tree 4x4x4: create + cancel root (per node)',
      () => {
        const [root, cancel] = withCancel(bg);
        const cancels: (() => void)[] = [];
        tree(root, 3, 4, cancels);
        cancel();
      },
      { batch: nodes },
    );
    b.add(
      'native tree 4x4x4 via AbortSignal.any: create + abort root (per node)',
      () => {
        const root = new AbortController();
        const controllers: AbortController[] = [];
        nativeTree(root.signal, 3, 4, controllers);
        root.abort();
      },
      { batch: nodes },
    );
    b.add('value lookup 10 levels deep', () => deep.value(key));
  },
});
