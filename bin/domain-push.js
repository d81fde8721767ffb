#!/usr/bin/env node
// The `domain-push` command. In a clone (after `npm ci`: tsx is there, and so is cli/main.ts) it
// runs the TypeScript through tsx, so an edit needs no build. Where there is no tsx or no source
// (the image: `npm ci --omit=dev` and only dist/) it runs the compiled CLI of `npm run build`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const source = path.join(__dirname, '..', 'cli', 'main.ts');
const compiled = path.join(__dirname, '..', 'dist', 'cli', 'main.js');

function tsxIsInstalled() {
  try {
    require.resolve('tsx/cjs');
    return true;
  } catch {
    return false;
  }
}

if (fs.existsSync(source) && tsxIsInstalled()) {
  require('tsx/cjs');
  require(source).run();
} else if (fs.existsSync(compiled)) {
  require(compiled).run();
} else {
  // Exit 2 like any refused command (see cli/exit-codes.ts); 1 means a partly failed job.
  console.error('domain-push: nothing to run: cli/main.ts needs tsx (npm ci), dist/cli/main.js needs `npm run build`');
  process.exit(2);
}
