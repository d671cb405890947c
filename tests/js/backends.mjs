// Loads a stepup JS backend by name; every test and runner goes through here.
export const BACKENDS = ['napi', 'wasm-node'];

export async function loadBackend(name) {
  switch (name) {
    case 'wasm-node':
      return (await import('../../bindings/web/node.js')).default;
    case 'napi':
      return (await import('../../bindings/node/index.js')).default;
    default:
      throw new Error(`unknown backend ${name}; expected one of ${BACKENDS.join(', ')}`);
  }
}
