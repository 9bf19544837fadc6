// Parse Mermaid files with Mermaid's own parser (`mermaid.parse`), as GitLab and GitHub do
// before drawing: `node parse.mjs FILE...` prints `ok FILE TYPE` or `error FILE: MESSAGE` per
// file and exits 1 when any fails. Mermaid sanitises labels with DOMPurify, which needs a DOM:
// jsdom provides one. `.ci/run` copies this script next to the node_modules it installs.
import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const r = await mermaid.parse(readFileSync(file, 'utf8'));
    console.log(`ok ${file} ${r.diagramType}`);
  } catch (e) {
    failed++;
    const message = String((e && e.message) || e).split('\n').join(' | ');
    console.log(`error ${file}: ${message}`);
  }
}
process.exit(failed ? 1 : 0);
