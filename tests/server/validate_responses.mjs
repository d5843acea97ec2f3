// validate_responses.mjs — checks recorded live API responses against the
// response schemas of the OpenAPI description.
//
//   node tests/server/validate_responses.mjs BUNDLED_SPEC.json RESPONSES.jsonl
//
// BUNDLED_SPEC.json is api-spec/openapi.yaml after
// `redocly bundle --dereferenced` (so every schema is inline). Each line of
// RESPONSES.jsonl is {"method", "path", "status", "content_type", "body"} as
// recorded by tests/server/http_api_test.c. For each exchange the operation
// is found by matching the concrete path against the spec's path templates;
// the status must be documented for that operation, the content type must be
// the documented one, and a JSON body must satisfy the schema (JSON Schema
// 2020-12, validated with Ajv). Routes or methods the spec does not have must
// answer with an Error body. Prints one line per failure and a closing
// "N passed, N failed" line; exits 1 when anything failed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default;

const [specPath, responsesPath] = process.argv.slice(2);
if (!specPath || !responsesPath) {
  console.error('usage: validate_responses.mjs BUNDLED_SPEC.json RESPONSES.jsonl');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const lines = readFileSync(responsesPath, 'utf8').split('\n').filter((l) => l.trim() !== '');

// OpenAPI keywords that are not JSON Schema assertions are tolerated.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
for (const kw of ['example', 'discriminator', 'xml', 'externalDocs']) {
  if (!ajv.getKeyword(kw)) ajv.addKeyword(kw);
}
const compiled = new Map();
function validatorFor(key, schema) {
  if (!compiled.has(key)) compiled.set(key, ajv.compile(schema));
  return compiled.get(key);
}

// Templates sorted so that literal segments win over parameters.
const templates = Object.keys(spec.paths).map((t) => {
  const re = new RegExp('^' + t.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    .replace(/\{[^}/]+\}/g, '[^/]+') + '$');
  return { t, re, params: (t.match(/\{/g) || []).length };
}).sort((a, b) => a.params - b.params);

function findPath(path) {
  const bare = path.split('?')[0];
  const hit = templates.find((x) => x.re.test(bare));
  return hit ? hit.t : null;
}

const errorSchema = spec.components.schemas.Error;
let passed = 0;
let failed = 0;
const fail = (rec, why) => {
  failed++;
  console.log(`FAIL ${rec.method} ${rec.path} -> ${rec.status}: ${why}`);
};

for (const line of lines) {
  const rec = JSON.parse(line);
  const tmpl = findPath(rec.path);
  const method = rec.method === 'HEAD' ? 'get' : rec.method.toLowerCase();
  const op = tmpl ? spec.paths[tmpl][method] : undefined;
  if (!op) {
    // no such route or method: must be a 404/405 with an Error body
    if (![404, 405].includes(rec.status)) {
      fail(rec, 'undocumented route answered with a status other than 404/405');
      continue;
    }
    const v = validatorFor('#Error', errorSchema);
    if (!v(rec.body)) fail(rec, ajv.errorsText(v.errors));
    else passed++;
    continue;
  }
  const resp = op.responses[String(rec.status)] || op.responses.default;
  if (!resp) {
    fail(rec, `status ${rec.status} is not documented for ${method.toUpperCase()} ${tmpl}`);
    continue;
  }
  const content = resp.content || {};
  const types = Object.keys(content);
  if (types.length === 0) {
    if (rec.body !== null && rec.body !== undefined) fail(rec, 'documented without a body, got one');
    else passed++;
    continue;
  }
  const ctype = (rec.content_type || '').split(';')[0].trim();
  if (!types.includes(ctype)) {
    fail(rec, `content type '${rec.content_type}' not in [${types.join(', ')}]`);
    continue;
  }
  if (ctype !== 'application/json') {
    passed++;
    continue;
  }
  const v = validatorFor(`${tmpl} ${method} ${rec.status}`, content[ctype].schema);
  if (!v(rec.body)) {
    fail(rec, ajv.errorsText(v.errors, { separator: '; ' }));
  } else {
    passed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
