// Where the ops magics connect: the environment first (PROMETHEUS_URL, DOCKER_HOST), overridden for this
// notebook by %prometheus (and %docker later); %config shows the result and where each setting came from.
// Secrets are only ever named by the environment variable that holds them, and never printed: credentials
// written into a URL are masked whenever it is shown.
import { existsSync } from 'node:fs';
import { MagicError } from '../kernel/io/errors';
import type { Magic } from './registry';
import { textValue } from './registry';

export interface PrometheusSettings {
  url: string | undefined;
  /** Where `url` came from: `PROMETHEUS_URL`, `%prometheus`, or nothing. */
  source: string;
  bearerTokenEnv?: string;
  basicAuthEnv?: { user: string; password: string };
  caFile?: string;
  insecure?: boolean;
}

/** A URL with any user:password replaced, safe to show in output and errors. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = u.username ? '***' : '';
    u.password = u.password ? '***' : '';
    const masked = u.toString();
    return url.endsWith('/') || !masked.endsWith('/') ? masked : masked.slice(0, -1);
  } catch {
    return url.replace(/\/\/[^/@\s]*@/, '//***@');
  }
}

function envName(value: string, what: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new MagicError(`${what} takes the NAME of an environment variable, not "${value.length > 12 ? `${value.slice(0, 4)}…` : value}"`, 'export the secret in the environment the kernel starts from, then pass its name');
  return value;
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MagicError(`not a URL: ${maskUrl(url)}`, 'write it like http://127.0.0.1:9090');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new MagicError(`Prometheus URL must be http or https: ${maskUrl(url)}`);
  return url.replace(/\/+$/, '');
}

export interface DockerSettings {
  /** DOCKER_HOST syntax: unix:///path, tcp://host:port, ssh://user@host; undefined means the local socket. */
  host: string | undefined;
  source: string;
}

export class NotebookConfig {
  private prometheusOverride: Omit<PrometheusSettings, 'source'> | undefined;
  private dockerOverride: string | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  prometheus(): PrometheusSettings {
    if (this.prometheusOverride) return { ...this.prometheusOverride, source: '%prometheus' };
    const url = this.env.PROMETHEUS_URL;
    return url ? { url: url.replace(/\/+$/, ''), source: 'PROMETHEUS_URL' } : { url: undefined, source: 'not set' };
  }

  setPrometheus(settings: Omit<PrometheusSettings, 'source'>): void {
    this.prometheusOverride = settings;
  }

  docker(): DockerSettings {
    if (this.dockerOverride) return { host: this.dockerOverride, source: '%docker' };
    const host = this.env.DOCKER_HOST;
    return host ? { host, source: 'DOCKER_HOST' } : { host: undefined, source: 'default' };
  }

  setDocker(host: string): void {
    this.dockerOverride = host;
  }

  reset(): void {
    this.prometheusOverride = undefined;
    this.dockerOverride = undefined;
  }

  /** Lines for %config: every setting, where it came from, secrets as `$NAME (set)` / `(not set)`. */
  describe(): string[] {
    const p = this.prometheus();
    const secret = (name: string) => `$${name} (${this.env[name] ? 'set' : 'not set'})`;
    const lines = [`prometheus.url     ${p.url ? maskUrl(p.url) : '(none: set PROMETHEUS_URL or run %prometheus <url>)'}   [${p.source}]`];
    if (p.bearerTokenEnv) lines.push(`prometheus.auth    bearer token from ${secret(p.bearerTokenEnv)}`);
    if (p.basicAuthEnv) lines.push(`prometheus.auth    basic, user from ${secret(p.basicAuthEnv.user)}, password from ${secret(p.basicAuthEnv.password)}`);
    if (p.caFile) lines.push(`prometheus.ca      ${p.caFile}`);
    if (p.insecure) lines.push('prometheus.tls     certificate NOT verified (--insecure)');
    const d = this.docker();
    lines.push(`docker.host        ${d.host ? maskUrl(d.host) : 'unix:///var/run/docker.sock'}   [${d.source}]`);
    if (d.source !== '%docker' && this.env.DOCKER_TLS_VERIFY === '1') lines.push(`docker.tls         verified, certificates from ${this.env.DOCKER_CERT_PATH ?? '~/.docker'}`);
    return lines;
  }
}

export function prometheusMagic(config: NotebookConfig): Magic {
  return {
    name: 'prometheus',
    summary: 'use this Prometheus for the rest of the notebook (secrets by environment variable name)',
    kind: 'line',
    positional: { name: 'url', description: 'http(s)://host:port of the Prometheus server', required: true },
    options: [
      { name: 'bearer-token-env', type: 'string', valueName: 'VAR', description: 'send the token held in environment variable VAR' },
      { name: 'basic-auth-env', type: 'string', valueName: 'USER_VAR:PASS_VAR', description: 'basic auth from two environment variables' },
      { name: 'ca', type: 'string', valueName: 'FILE', description: 'trust this CA certificate (PEM) for https' },
      { name: 'insecure', type: 'boolean', description: 'do not verify the server certificate (https)' },
    ],
    run: async ({ args }) => {
      const o = args.options;
      const settings: Omit<PrometheusSettings, 'source'> = { url: checkUrl(args.rest) };
      if (typeof o['bearer-token-env'] === 'string') settings.bearerTokenEnv = envName(o['bearer-token-env'], '--bearer-token-env');
      if (typeof o['basic-auth-env'] === 'string') {
        const [user, password] = o['basic-auth-env'].split(':');
        if (!user || !password) throw new MagicError('--basic-auth-env takes USER_VAR:PASS_VAR, two environment variable names');
        settings.basicAuthEnv = { user: envName(user, '--basic-auth-env'), password: envName(password, '--basic-auth-env') };
      }
      if (typeof o.ca === 'string') {
        if (!existsSync(o.ca)) throw new MagicError(`CA file not found: ${o.ca}`);
        settings.caFile = o.ca;
      }
      if (o.insecure === true) settings.insecure = true;
      if (settings.bearerTokenEnv && settings.basicAuthEnv) throw new MagicError('choose one of --bearer-token-env and --basic-auth-env');
      config.setPrometheus(settings);
      return textValue(`Prometheus for this notebook: ${maskUrl(settings.url as string)}`);
    },
  };
}

export function configMagic(config: NotebookConfig): Magic {
  return {
    name: 'config',
    summary: 'show where the ops magics connect and where each setting comes from',
    kind: 'line',
    options: [{ name: 'reset', type: 'boolean', description: "forget this notebook's settings (%prometheus...) and use the environment's" }],
    run: async ({ args }) => {
      if (args.options.reset === true) config.reset();
      return textValue(config.describe().join('\n'));
    },
  };
}
