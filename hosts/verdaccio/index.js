'use strict';
// Verdaccio middleware plugin entry: `middlewares: { stepup: { secret_key: ... } }`.
const { StepupMiddleware } = require('./lib/middleware.js');

module.exports = function verdaccioStepup(config, options) {
  return new StepupMiddleware(config || {}, options);
};
