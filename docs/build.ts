/**
 * `npm run docs`: one static site in docs/api/ — the typedoc API reference (zero warnings), the
 * guides and the docs home as project documents, and the SVG charts rendered from committed
 * real-run data — then a link check over the built HTML that fails on any broken internal link
 * or missing image.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LinkChecker } from 'linkinator';
import { generateCharts } from './charts/generate.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const charts = await generateCharts();
console.log(`charts: ${charts.length} rendered into docs/charts/`);

execFileSync(process.execPath, [`${root}/node_modules/typedoc/bin/typedoc`], { cwd: root, stdio: 'inherit' });

const checker = new LinkChecker();
// The folder, not index.html: linkinator then serves it and crawls every page it reaches (all
// ~390), where a file path stopped after the first level and never saw the guides' links.
const result = await checker.check({ path: `${root}/docs/api`, recurse: true, linksToSkip: ['^https?://(?!localhost)'] });
const broken = result.links.filter((l) => l.state === 'BROKEN');
for (const b of broken) console.error(`broken link: ${b.url} (on ${b.parent}) status ${b.status}`);
const pages = new Set(result.links.filter((l) => /\.html(#|$)/.test(l.url)).map((l) => l.url.split('#')[0]));
console.log(`link check: ${result.links.length} links on ${pages.size} pages checked, ${broken.length} broken`);
if (broken.length > 0) process.exit(1);
