import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The packages as users get them: the compiled `dist/` imported by plain `node` (no tsx, no
 * vitest transforms), so syntax that only the test runner lowers (`await using`, decorators…)
 * or a missing `.lua` asset fails here. `npm test` builds first (pretest).
 */
const root = fileURLToPath(new URL('..', import.meta.url));

function concepts(pkg: string): string[] {
  const src = `${root}/packages/${pkg}/src`;
  return readdirSync(src).filter((d) => statSync(`${src}/${d}`).isDirectory() && readdirSync(`${src}/${d}`).includes('index.ts'));
}

describe('built packages under plain node', () => {
  for (const pkg of ['primitives', 'patterns']) {
    it(`@gopherkit/${pkg}: root and every concept subpath import from dist`, () => {
      const subpaths = ['', ...concepts(pkg).map((c) => `/${c}`)];
      const script = `
        const subpaths = ${JSON.stringify(subpaths)};
        const out = {};
        for (const s of subpaths) {
          const m = await import('@gopherkit/${pkg}' + s);
          out[s || '.'] = Object.keys(m).length;
        }
        console.log(JSON.stringify(out));`;
      const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
      const counts = JSON.parse(stdout) as Record<string, number>;
      for (const s of subpaths) expect(counts[s || '.'], `exports of @gopherkit/${pkg}${s}`).toBeGreaterThan(0);
    });
  }

  it('runs compiled code that uses await using, contexts and Lua assets under Node 20', () => {
    const script = `
      import { background, withTimeout, DeadlineExceeded, waitSignal } from '@gopherkit/primitives/context';
      import { ManualClock } from '@gopherkit/primitives/clock';
      import { loadScript } from '@gopherkit/primitives/redis';
      const clock = new ManualClock(0);
      const [ctx] = withTimeout(background(), 10, { clock });
      await clock.advance(10);
      if (ctx.err() !== DeadlineExceeded) throw new Error('deadline did not fire');
      { const w = waitSignal({ deadline: 5 }, clock); w[Symbol.dispose](); }
      const s = loadScript(new URL('../node_modules/@gopherkit/primitives/dist/redis/testdata-incr-by.lua', 'file://' + process.cwd() + '/x/'), 1);
      if (!s.lua.includes('INCRBY')) throw new Error('lua asset missing from dist');
      console.log('ok', process.version);`;
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(stdout).toMatch(/^ok v\d+/);
  });

  it('dist contains no syntax newer than ES2022 (no `using` declarations survive compilation)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = `${dir}/${f}`;
        if (statSync(p).isDirectory()) walk(p);
        else if (f.endsWith('.js') && /^\s*(await\s+)?using\s+\w+\s*=/m.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    };
    for (const pkg of ['primitives', 'patterns']) walk(`${root}/packages/${pkg}/dist`);
    expect(offenders).toEqual([]);
  });
});
