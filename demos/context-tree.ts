import { background, type Context, cause, DeadlineExceeded, withCancel, withCancelCause, withTimeout } from '@gopherkit/primitives/context';
import { defineDemo } from './harness/demo.js';

/**
 * A request fans out to services that fan out to queries. Without a context, a timed-out
 * request leaves its queries running (wasted DB work nobody waits for); with one, the deadline
 * cascades to every descendant at once, a branch can be cancelled alone, and nothing runs on.
 */
export default defineDemo({
  description: 'Context tree: a request deadline cascades to every descendant; naive fan-out keeps working after the caller gave up',
  async run(d) {
    const QUERY_MS = 30;
    const QUERIES_PER_SERVICE = 10;
    const services = ['user', 'order', 'stock'];

    // Each "query" takes QUERY_MS; a service runs its queries one after another.
    const query = (signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, QUERY_MS);
        signal?.addEventListener('abort', () => {
          clearTimeout(t);
          reject(signal.reason);
        });
      });

    // --- naive: the caller stops waiting at 100 ms, but the work goes on ---------------------
    let naiveAfterDeadline = 0;
    let naiveGaveUp = false;
    const naiveWork = services.map(async () => {
      for (let i = 0; i < QUERIES_PER_SERVICE; i++) {
        await query();
        if (naiveGaveUp) naiveAfterDeadline++;
      }
    });
    await Promise.race([Promise.all(naiveWork), new Promise((r) => setTimeout(r, 100))]);
    naiveGaveUp = true;
    await Promise.all(naiveWork);

    // --- with a context tree -----------------------------------------------------------------
    const [request, cancelRequest] = withTimeout(background(), 100);
    const leaves: Context[] = [];
    let ctxAfterDeadline = 0;
    const work = services.map(async (name) => {
      const [svc, cancelSvc] = withCancel(request);
      try {
        for (let i = 0; i < QUERIES_PER_SERVICE; i++) {
          const [q, cancelQ] = withCancel(svc);
          leaves.push(q);
          try {
            await query(q.signal);
            if (request.err()) ctxAfterDeadline++;
          } finally {
            cancelQ();
          }
        }
      } catch (e) {
        if (e !== DeadlineExceeded) throw e;
      } finally {
        cancelSvc();
      }
      return name;
    });
    const startedAt = performance.now();
    await request.done();
    const cascadeMs = performance.now() - startedAt;
    await Promise.all(work);
    cancelRequest();

    // --- a branch cancelled alone: parent and siblings keep going ----------------------------
    const [root, cancelRoot] = withCancel(background());
    const [left, cancelLeft] = withCancelCause(root);
    const [leftChild] = withCancel(left);
    const [right] = withCancel(root);
    cancelLeft(new Error('left branch: user closed the tab'));
    const branchOk = leftChild.err() !== null && root.err() === null && right.err() === null;
    const branchLine = `branch cancel: leftChild=${leftChild.err()?.message} (cause "${(cause(leftChild) as Error).message}"), root.err()=${root.err()}, right.err()=${right.err()}`;
    cancelRoot();

    const allLeavesDone = leaves.every((q) => q.err() !== null);
    d.table([
      { approach: 'naive Promise fan-out', 'queries run after the caller gave up': naiveAfterDeadline, 'descendants stopped': 'no' },
      {
        approach: 'context tree (withTimeout 100 ms)',
        'queries run after the caller gave up': ctxAfterDeadline,
        'descendants stopped': allLeavesDone ? 'all' : 'NOT all',
      },
    ]);
    d.bars(
      [
        { label: 'naive: queries after give-up', value: naiveAfterDeadline },
        { label: 'context: queries after give-up', value: ctxAfterDeadline },
      ],
      { width: 30 },
    );
    d.record('after-deadline', { naive: naiveAfterDeadline, context: ctxAfterDeadline, queriesPerService: QUERIES_PER_SERVICE, services: services.length });
    d.log(
      `\nrequest.err() = ${request.err()?.message}; cause = ${(cause(request) as Error).message}; deadline cascade observed ~${cascadeMs.toFixed(0)} ms after start`,
    );
    d.log(branchLine);

    d.check(naiveAfterDeadline > 0, 'naive fan-out should keep working after the caller gave up (the failure this demo shows)');
    d.check(ctxAfterDeadline === 0, 'no query may complete after the request deadline');
    d.check(allLeavesDone, 'every descendant context must be done');
    d.check(request.err() === DeadlineExceeded, 'request must end with DeadlineExceeded');
    d.check(branchOk, 'cancelling a branch must cancel its children only, never its parent or siblings');
    return `naive queries after deadline=${naiveAfterDeadline}, context queries after deadline=${ctxAfterDeadline}, branch cancel isolated=${branchOk}`;
  },
});
