'use strict';
// Verdaccio middleware plugin entry: `middlewares: { stepup: { secret_key_env: ... } }`.
const { StepupMiddleware } = require('./lib/middleware.js');

// Verdaccio catches a plugin that fails to load, logs "package not found" and serves on without
// it: here that would be a registry without its second factor. A configuration the plugin
// cannot run with (a policy the engine refuses, no sealing key) stops the process instead,
// with the field at fault. EX_CONFIG (78), as sysexits names it.
module.exports = function verdaccioStepup(config, options) {
  try {
    return new StepupMiddleware(config || {}, options);
  } catch (err) {
    const message = `${err.message}\nverdaccio-stepup: stopping Verdaccio rather than serving without 2FA`;
    options?.logger?.fatal?.({ err: err.message }, '@{err}');
    process.stderr.write(`${message}\n`);
    process.exit(78);
  }
};
