#!/usr/bin/env node
// node bindings/node/conformance.mjs PATH... — the corpus through the native addon.
import { main } from '../../tests/js/conformance.mjs';

process.exitCode = await main(process.argv.slice(2), 'napi');
