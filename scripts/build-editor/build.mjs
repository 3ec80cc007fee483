// Builds the editor and chart libraries gdlab serves itself (service/static/vendor/), from
// the exact versions package-lock.json pins. Run once by a developer when updating them
// (README.md), never at install time: the output is committed.
//
//   cd scripts/build-editor && npm ci && npm run build
//
// Writes, under service/static/vendor/:
//   codemirror.min.js            CodeMirror 6 (editor-entry.js) as one minified IIFE,
//                                global `GdlabEditor`
//   uplot.min.js, uplot.min.css  uPlot's own published minified build, copied unchanged
//   THIRD_PARTY_LICENSES.txt     the licence of every package in those files
//   VENDORED.md                  versions and SHA-256 of each file
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "../../service/static/vendor");
const modules = join(here, "node_modules");
mkdirSync(out, { recursive: true });

const bundled = await build({
  entryPoints: [join(here, "editor-entry.js")],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "GdlabEditor",
  target: ["es2020"],
  legalComments: "none", // the licences are in THIRD_PARTY_LICENSES.txt
  outfile: join(out, "codemirror.min.js"),
  metafile: true,
  logLevel: "warning",
});
copyFileSync(join(modules, "uplot/dist/uPlot.iife.min.js"), join(out, "uplot.min.js"));
copyFileSync(join(modules, "uplot/dist/uPlot.min.css"), join(out, "uplot.min.css"));

// every package a byte of the output came from: "node_modules/<name>/..." or "@scope/name"
const packages = new Set(["uplot"]);
for (const input of Object.keys(bundled.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
const names = [...packages].sort();
const manifest = (name) => JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
const licenceFile = (name) => {
  const found = readdirSync(join(modules, name)).find((f) => /^(licen[cs]e|copying)/i.test(f));
  if (!found) throw new Error(`${name} ships no licence file`);
  return readFileSync(join(modules, name, found), "utf8").trim();
};
const licences = names.map((name) => {
  const { version, license } = manifest(name);
  return `${"=".repeat(78)}\n${name} ${version} (${license})\n${"=".repeat(78)}\n\n${licenceFile(name)}\n`;
});
writeFileSync(join(out, "THIRD_PARTY_LICENSES.txt"),
  "The licences of the packages bundled into codemirror.min.js and uplot.min.js/.css\n" +
  "(built by scripts/build-editor; see VENDORED.md).\n\n" + licences.join("\n"));

const files = ["codemirror.min.js", "uplot.min.js", "uplot.min.css", "THIRD_PARTY_LICENSES.txt"];
const sha = (file) => createHash("sha256").update(readFileSync(join(out, file))).digest("hex");
writeFileSync(join(out, "VENDORED.md"), `# Editor and chart libraries, vendored

Built by \`scripts/build-editor\` (\`npm ci && npm run build\`) from npm, at the versions
its \`package-lock.json\` pins; committed, so that nothing is built at install time and
nothing is loaded from a CDN. The pages load them from gdlab itself.

- \`codemirror.min.js\`: CodeMirror 6, bundled and minified by esbuild from
  \`scripts/build-editor/editor-entry.js\` (one global, \`GdlabEditor\`).
- \`uplot.min.js\`, \`uplot.min.css\`: uPlot's own minified build, copied unchanged.
- \`THIRD_PARTY_LICENSES.txt\`: the licence of every package in them.

Packages: ${names.map((name) => `${name} ${manifest(name).version}`).join(", ")}.

SHA-256 of each file:

\`\`\`
${files.map((file) => `${sha(file)}  ${file}`).join("\n")}
\`\`\`
`);
console.log(`vendored ${names.length} packages into ${out}`);
