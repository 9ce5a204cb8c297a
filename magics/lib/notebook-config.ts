// Where the ops magics connect, for the notebook: the environment first (PROMETHEUS_URL, DOCKER_HOST), overridden by
// %prometheus and %docker; describe() is what %config prints. Secrets are only ever named by the environment
// variable that holds them, and never printed: credentials written into a URL are masked whenever it is shown.

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
