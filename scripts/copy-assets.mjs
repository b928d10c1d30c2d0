// Copies non-TypeScript runtime assets (Lua scripts) from a package's src/ into dist/,
// keeping the folder layout so `new URL('./x.lua', import.meta.url)` resolves in both.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const [from, to] = process.argv.slice(2);
const ASSETS = /\.(lua)$/;
let copied = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (ASSETS.test(name)) {
      cpSync(p, join(to, relative(from, p)));
      copied++;
    }
  }
}
walk(from);
console.log(`copy-assets: ${copied} file(s) ${from} -> ${to}`);
