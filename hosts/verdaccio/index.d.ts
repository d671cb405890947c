import type { Config } from 'stepup-node';

/** `middlewares.stepup` in Verdaccio's config.yaml. */
export interface StepupPluginConfig {
  /** Key for encrypting TOTP secrets at rest (or env STEPUP_SECRET_KEY). Required. */
  secret_key?: string;
  /** Issuer shown in authenticator apps. Default "Verdaccio". */
  issuer?: string;
  /** stepup policy configuration (preset and overrides). */
  policy?: Config;
  /**
   * Trusted publishing: JWKS file(s) of the CI providers whose ID tokens
   * `POST /-/npm/v1/oidc/token/exchange/package/NAME` accepts (paths relative to config.yaml).
   */
  oidc_jwks?: string | string[];
}

declare function verdaccioStepup(config: StepupPluginConfig, options: { config: object; logger: object }): {
  register_middlewares(app: unknown, auth: unknown, storage: unknown): void;
};
export = verdaccioStepup;
