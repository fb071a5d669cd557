// Exits 0 when node_modules in the current directory holds exactly what its package-lock.json pins (same
// packages, versions and integrity), so `make oracle-deps` and `make workload-deps` run `npm ci` only when
// it would change something.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

function packages(file) {
  try {
    return JSON.parse(fs.readFileSync(path.join(process.cwd(), file))).packages || {};
  } catch {
    return null;
  }
}

const locked = packages('package-lock.json');
const installed = packages(path.join('node_modules', '.package-lock.json'));
if (!locked || !installed) {
  process.exit(1);
}
const names = Object.keys(locked).filter((k) => k !== '');
const same =
  names.length === Object.keys(installed).length &&
  names.every((k) => installed[k] && installed[k].version === locked[k].version && installed[k].integrity === locked[k].integrity);
process.exit(same ? 0 : 1);
