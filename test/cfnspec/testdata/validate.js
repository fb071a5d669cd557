// Validates CloudFormation templates against the resource registry schemas in @aws-cdk/aws-service-spec:
// every resource type exists, every property is one of its type's, required properties are there, and every
// value has its property's type (recursively through arrays, maps, tags and property types). Reads a JSON
// array of templates on standard input; writes {"version", "checked", "problems": [...]} on standard output.
'use strict';
const { loadAwsServiceSpecSync } = require('@aws-cdk/aws-service-spec');
const version = require('@aws-cdk/aws-service-spec/package.json').version;

const db = loadAwsServiceSpecSync();
const problems = [];
let checked = 0;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const intrinsic = (v) => isObject(v) && Object.keys(v).length === 1 && (Object.keys(v)[0] === 'Ref' || Object.keys(v)[0].startsWith('Fn::'));

function checkType(where, type, v) {
  if (intrinsic(v)) return true;
  switch (type.type) {
    case 'string': case 'date-time': return typeof v === 'string' || fail(where, 'a string', v);
    case 'integer': return (Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v))) || fail(where, 'an integer', v);
    case 'number': return (typeof v === 'number' || (typeof v === 'string' && !isNaN(Number(v)))) || fail(where, 'a number', v);
    case 'boolean': return (typeof v === 'boolean' || v === 'true' || v === 'false') || fail(where, 'a boolean', v);
    case 'json': return (isObject(v) || Array.isArray(v)) || fail(where, 'a JSON object', v);
    case 'null': return v === null || fail(where, 'null', v);
    case 'tag':
      if (!isObject(v)) return fail(where, 'a tag {Key, Value}', v);
      for (const k of Object.keys(v)) if (k !== 'Key' && k !== 'Value') problems.push(`${where}: tag has unknown key ${k}`);
      if (typeof v.Key !== 'string') problems.push(`${where}: tag without a string Key`);
      if (v.Value !== undefined && typeof v.Value !== 'string') problems.push(`${where}: tag Value is not a string`);
      return true;
    case 'array':
      if (!Array.isArray(v)) return fail(where, 'a list', v);
      v.forEach((x, i) => checkType(`${where}[${i}]`, type.element, x));
      return true;
    case 'map':
      if (!isObject(v)) return fail(where, 'a map', v);
      for (const [k, x] of Object.entries(v)) checkType(`${where}.${k}`, type.element, x);
      return true;
    case 'union': {
      const saved = problems.length;
      for (const t of type.types) {
        const before = problems.length;
        checkType(where, t, v);
        if (problems.length === before) { problems.length = saved; return true; }
        problems.length = before;
      }
      return fail(where, 'one of ' + type.types.map((t) => t.type).join(', '), v);
    }
    case 'ref': {
      const def = db.get('typeDefinition', type.reference.$ref);
      if (!isObject(v)) return fail(where, `a ${def.name}`, v);
      checkProperties(where, def.properties, v);
      return true;
    }
    default:
      problems.push(`${where}: the schema's type ${type.type} is not one this validator knows`);
      return false;
  }
}

function fail(where, want, v) {
  problems.push(`${where}: want ${want}, got ${JSON.stringify(v)}`);
  return false;
}

function checkProperties(where, props, values) {
  for (const [name, p] of Object.entries(props)) {
    if (p.required && !(name in values)) problems.push(`${where}: required property ${name} is missing`);
  }
  for (const [name, v] of Object.entries(values)) {
    const p = props[name];
    if (!p) { problems.push(`${where}: ${name} is not a property (known: ${Object.keys(props).sort().join(', ')})`); continue; }
    checkType(`${where}.${name}`, p.type, v);
  }
}

const sections = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Rules', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs']);
const attributes = new Set(['Type', 'Properties', 'DependsOn', 'DeletionPolicy', 'UpdateReplacePolicy', 'Metadata', 'Condition', 'CreationPolicy', 'UpdatePolicy']);
const policies = new Set(['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot']);

const templates = JSON.parse(require('fs').readFileSync(0, 'utf8'));
templates.forEach((tpl, ti) => {
  const at = `template ${ti}`;
  for (const k of Object.keys(tpl)) if (!sections.has(k)) problems.push(`${at}: ${k} is not a template section`);
  if (tpl.AWSTemplateFormatVersion !== undefined && tpl.AWSTemplateFormatVersion !== '2010-09-09') problems.push(`${at}: AWSTemplateFormatVersion ${tpl.AWSTemplateFormatVersion}`);
  const resources = tpl.Resources || {};
  if (Object.keys(resources).length === 0) problems.push(`${at}: no Resources`);
  for (const [id, r] of Object.entries(resources)) {
    const where = `${at} ${id}`;
    if (!/^[A-Za-z0-9]+$/.test(id)) problems.push(`${where}: a logical ID must be alphanumeric`);
    for (const k of Object.keys(r)) if (!attributes.has(k)) problems.push(`${where}: ${k} is not a resource attribute`);
    for (const k of ['DeletionPolicy', 'UpdateReplacePolicy']) if (r[k] !== undefined && !policies.has(r[k])) problems.push(`${where}: ${k} ${r[k]}`);
    for (const d of [].concat(r.DependsOn || [])) if (!(d in resources)) problems.push(`${where}: DependsOn ${d}, which the template does not have`);
    const found = db.lookup('resource', 'cloudFormationType', 'equals', r.Type);
    if (found.length !== 1) { problems.push(`${where}: no resource type ${r.Type}`); continue; }
    checkProperties(`${where} (${r.Type})`, found[0].properties, r.Properties || {});
    checked++;
  }
});
process.stdout.write(JSON.stringify({ version, checked, problems }) + '\n');
