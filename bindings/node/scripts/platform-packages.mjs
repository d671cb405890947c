// Before packing: each platform package under npm/ gets the addon built for it, and every
// package the license; the main package ships no binary of its own (napi-rs's layout).
import { copyFileSync, existsSync, readdirSync } from 'node:fs';


const root = new URL('../', import.meta.url);
const license = new URL('../../LICENSE', root);
copyFileSync(license, new URL('LICENSE', root));
for (const dir of readdirSync(new URL('npm/', root))) {
  const at = new URL(`npm/${dir}/`, root);
  const addon = `stepup.${dir}.node`;
  copyFileSync(license, new URL('LICENSE', at));
  if (existsSync(new URL(addon, root))) copyFileSync(new URL(addon, root), new URL(addon, at));
  else throw new Error(`stepup-node: ${addon} was not built here (npm run build on that platform, or napi build --target); npm/${dir} would pack without its binary`);
}
