#!/usr/bin/env bash
# Vendor Swagger UI into service/static/swagger-ui/ from npm's swagger-ui-dist package, so
# that /api/v1/docs needs no CDN (a server on a closed campus network or offline still shows
# its API documentation).
#
#   bash scripts/vendor_swagger_ui.sh            # the newest 5.x
#   bash scripts/vendor_swagger_ui.sh 5.35.0     # an exact version
#
# Needs npm (which checks the tarball against the registry's integrity hash). Only the files
# flask-smorest's Swagger UI page loads are copied, with the licence, the notice and the
# licences of the libraries bundled in them; VENDORED.md is rewritten to say which version
# this is and the SHA-256 of each file (tests/service/test_docs_page.py checks them).
set -euo pipefail

version="${1:-5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/service/static/swagger-ui"
files=(
  swagger-ui-bundle.js
  swagger-ui-standalone-preset.js
  swagger-ui.css
  LICENSE
  NOTICE
  swagger-ui-bundle.js.LICENSE.txt
  swagger-ui-standalone-preset.js.LICENSE.txt
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --json --silent "swagger-ui-dist@$version" > pack.json)
read -r resolved integrity tarball < <(node -e '
  const [p] = require(process.argv[1]);
  console.log(p.version, p.integrity, p.filename);' "$work/pack.json")
tar -xzf "$work/$tarball" -C "$work"

rm -rf "$dest"
mkdir -p "$dest"
for file in "${files[@]}"; do
  cp "$work/package/$file" "$dest/$file"
done

{
  cat <<EOF
# Swagger UI, vendored

The files here are copied unchanged from the npm package \`swagger-ui-dist\` version
**$resolved** (<https://www.npmjs.com/package/swagger-ui-dist>, built from
<https://github.com/swagger-api/swagger-ui>; tarball integrity \`$integrity\`).
They are Swagger UI's licence (Apache-2.0, \`LICENSE\` and \`NOTICE\`), the licences of the
libraries bundled into the scripts (\`*.LICENSE.txt\`), and the three files flask-smorest's
Swagger UI page loads from \`OPENAPI_SWAGGER_UI_URL\`: \`swagger-ui-bundle.js\`,
\`swagger-ui-standalone-preset.js\` and \`swagger-ui.css\`. The app serves them as static
files, so \`/api/v1/docs\` works without internet.

To update, run \`bash scripts/vendor_swagger_ui.sh [VERSION]\` (default: the newest 5.x);
it rewrites this folder and this file. Then run \`tests/service/test_docs_page.py\` and
\`tests/browser/test_docs.py\`, and commit.

SHA-256 of each file:

\`\`\`
EOF
  (cd "$dest" && sha256sum "${files[@]}")
  echo '```'
} > "$dest/VENDORED.md"

echo "swagger-ui-dist $resolved vendored into ${dest#"$root"/}"
