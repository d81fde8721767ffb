#!/usr/bin/env node
// The `domain-push` command. The CLI is TypeScript like the rest of the project; tsx (a runtime
// dependency) compiles it on load, so a fresh clone works after `npm ci` with no build step.
'use strict';
require('tsx/cjs');
require('../cli/main.ts').run();
