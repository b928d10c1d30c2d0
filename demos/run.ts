/**
 * `npm run demo`                 → the flagship demos, each in its own process, then a summary table
 * `npm run demo -- <name> [...]` → one (or a few) demos, e.g. `npm run demo -- context-tree`
 * `npm run demo -- --list`       → every demo with its one-line description
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { flagship } from './flagship.js';
import { type Demo, formatTable, runDemo } from './harness/demo.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Every demo file: `demos/<name>.ts` (not the runner, the flagship list or test files). */
export function demoNames(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !['run.ts', 'flagship.ts'].includes(f))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
}

/** Reads a demo's description without importing it (so `--list` takes milliseconds). */
export function demoDescription(name: string): string {
  const src = readFileSync(`${here}/${name}.ts`, 'utf8');
  const m = /description:\s*(['"`])((?:\\.|(?!\1).)*)\1/.exec(src);
  return m ? (m[2] as string).replace(/\\(.)/g, '$1') : '(no description)';
}

async function runOne(name: string): Promise<boolean> {
  if (!demoNames().includes(name)) {
    console.error(`unknown demo "${name}". Known demos:\n  ${demoNames().join('\n  ')}`);
    return false;
  }
  const mod = (await import(pathToFileURL(`${here}/${name}.ts`).href)) as { default: Demo };
  console.log(`▶ ${name} — ${mod.default.description}\n`);
  const { ok, line } = await runDemo(name, mod.default);
  console.log(`\n${line}`);
  return ok;
}

function runChild(name: string): Promise<{ name: string; ok: boolean; verdict: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('exit', (code) => {
      const lines = out.trimEnd().split('\n');
      const last = lines[lines.length - 1] ?? '';
      resolve({ name, ok: code === 0, verdict: last.replace(`${name}: `, ''), seconds: (performance.now() - started) / 1000 });
    });
  });
}

const args = process.argv.slice(2);
if (args.includes('--list')) {
  const names = demoNames();
  const width = Math.max(...names.map((n) => n.length));
  for (const n of names) console.log(`${n.padEnd(width)}  ${demoDescription(n)}${flagship.includes(n) ? '  [flagship]' : ''}`);
  process.exit(0);
} else if (args.length > 0) {
  let ok = true;
  for (const name of args) ok = (await runOne(name)) && ok;
  process.exit(ok ? 0 : 1);
} else {
  const results = [];
  for (const name of flagship) {
    console.log(`\n${'═'.repeat(100)}`);
    results.push(await runChild(name));
  }
  console.log(`\n${'═'.repeat(100)}\nSummary\n`);
  console.log(formatTable(results.map((r) => ({ demo: r.name, result: r.ok ? 'OK' : 'FAIL', seconds: Number(r.seconds.toFixed(1)), verdict: r.verdict }))));
  const failed = results.filter((r) => !r.ok);
  console.log(failed.length ? `\n${failed.length} of ${results.length} demos FAILED` : `\nall ${results.length} demos OK`);
  process.exit(failed.length ? 1 : 0);
}
