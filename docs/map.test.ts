/**
 * The teaching map (`docs/README.md`) stays true to the repository: every demo it names exists and
 * every demo exists in it, every bench suite it names exists, every guide link and chart resolves.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const map = readFileSync(`${root}docs/README.md`, 'utf8');

/** Demos that are runner entry points, not lessons. */
const notLessons = new Set(['run', 'flagship']);
const demoFiles = readdirSync(`${root}demos`)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .filter((n) => !notLessons.has(n))
  .sort();

const demosInMap = [...new Set([...map.matchAll(/npm run demo -- ([\w-]+)/g)].map((m) => m[1] as string))].sort();

/** Rows of the map tables (tables whose header starts with `| # |`), without header and separator. */
const rows: string[][] = [];
let inMapTable = false;
for (const line of map.split('\n')) {
  if (!line.startsWith('|')) inMapTable = false;
  else if (line.startsWith('| # |')) inMapTable = true;
  else if (inMapTable && !line.startsWith('| ---')) rows.push(line.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, '').trim()));
}

/** GitHub's heading slug: lower case, punctuation dropped, spaces to dashes. */
function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** typedoc's heading slug (its `Slugger.serialize`, lower-cased): the anchor on the built docs site. */
function typedocSlug(heading: string): string {
  return heading
    .trim()
    .replace(/[\u2000-\u206F\u2E00-\u2E7F\\'!"#$%&()*+,./:;<=>?@[\]^`{|}~]/g, '')
    .replace(/\s/g, '-')
    .replace(/--+/, '-')
    .toLowerCase();
}

/** Anchors that work both on GitHub and on the typedoc site. */
function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const headings = [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1] as string);
  return new Set(headings.filter((h) => githubSlug(h) === typedocSlug(h)).map(githubSlug));
}

describe('docs/README.md: the teaching map', () => {
  it('names only demos that exist', () => {
    expect(demosInMap.filter((n) => !existsSync(`${root}demos/${n}.ts`))).toEqual([]);
  });

  it('names every demo in demos/', () => {
    expect(demoFiles.filter((n) => !demosInMap.includes(n))).toEqual([]);
  });

  it('names only bench suites that exist, and every suite in bench/', () => {
    const suites = new Set<string>();
    for (const r of rows) {
      const bench = r[6];
      expect(bench, `row "${r[0]}" has 7 columns`).toBeDefined();
      for (const m of (bench ?? '').matchAll(/`([\w-]+)`/g)) suites.add(m[1] as string);
    }
    expect(suites.size).toBeGreaterThan(5);
    expect([...suites].filter((s) => !existsSync(`${root}bench/${s}.bench.ts`))).toEqual([]);
    const benchFiles = readdirSync(`${root}bench`).filter((f) => f.endsWith('.bench.ts'));
    expect(benchFiles.map((f) => f.replace(/\.bench\.ts$/, '')).filter((n) => !suites.has(n))).toEqual([]);
  });

  it('links only to guides that exist, and to headings they have', () => {
    const broken: string[] = [];
    for (const m of map.matchAll(/\]\((guides\/[\w-]+\.md)(?:#([^)]+))?\)/g)) {
      const file = `${root}docs/${m[1]}`;
      if (!existsSync(file)) broken.push(`${m[1]}: no such file`);
      else if (m[2] && !anchors(file).has(m[2])) broken.push(`${m[1]}#${m[2]}: no heading with this anchor on both GitHub and the typedoc site`);
    }
    expect(broken).toEqual([]);
  });

  it('embeds only charts that exist', () => {
    const missing = [...map.matchAll(/\]\((charts\/[\w.-]+\.svg)\)/g)].map((m) => m[1] as string).filter((p) => !existsSync(`${root}docs/${p}`));
    expect(missing).toEqual([]);
  });

  it('covers every numbered question of the seed: 1–36, 16.1 and H1–H7', () => {
    expect(rows.length).toBeGreaterThan(50);
    const ids = new Set(rows.map((r) => r[0]?.split('·')[0]));
    const wanted = [...Array.from({ length: 36 }, (_, i) => String(i + 1)), '16.1', ...Array.from({ length: 7 }, (_, i) => `H${i + 1}`)];
    expect(wanted.filter((q) => !ids.has(q))).toEqual([]);
  });

  it('cites a seed line on every row', () => {
    expect(rows.filter((r) => !/^L\d+$/.test(r[2] ?? '')).map((r) => r[0])).toEqual([]);
  });
});
