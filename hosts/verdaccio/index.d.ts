import type { Config } from 'stepup-node';

/** `middlewares.stepup` in Verdaccio's config.yaml. */
export interface StepupPluginConfig {
  /**
   * The environment variable holding the sealing key (default `STEPUP_SECRET_KEY`): 32 bytes as
   * hex or base64, or a passphrase of at least 16 characters (stretched with scrypt). Verdaccio
   * does not expand `${...}` in config.yaml; a literal placeholder is refused at start.
   */
  secret_key_env?: string;
  /** The key itself, when the environment cannot hold it (the environment wins). */
  secret_key?: string;
  /** Write routes to forward beyond npm's catalogue, each decided as `kind`; others are refused. */
  routes?: Array<{ prefix: string; methods?: string[]; kind: string }>;
  /** Issuer shown in authenticator apps. Default "Verdaccio". */
  issuer?: string;
  /** stepup policy configuration (preset and overrides). */
  policy?: Config;
  /**
   * Trusted publishing: each CI provider's JWKS file (paths relative to config.yaml); a
   * provider's keys verify only ID tokens that claim its issuer.
   */
  oidc_jwks?: { github?: string; gitlab?: string; circleci?: string };
  /**
   * Seconds between writes of the counted tarball downloads and rebuilds of the package-impact
   * index (1–86400, default 60); counts are also written when the process ends.
   */
  impact_period?: number;
  /**
   * An operator's package-impact figures (path relative to config.yaml): CSV with a header naming
   * `name`, `weekly_downloads`, `dependents`, or JSON (an array of such objects). Each package
   * takes the larger of these and the plugin's own counts; the file is re-read when it changes.
   */
  impact_file?: string;
}

declare function verdaccioStepup(config: StepupPluginConfig, options: { config: object; logger: object }): {
  register_middlewares(app: unknown, auth: unknown, storage: unknown): void;
};
export = verdaccioStepup;
