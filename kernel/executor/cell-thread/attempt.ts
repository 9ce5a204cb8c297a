// A read that may throw (a getter or Proxy trap of user code, the file system) with a fallback value.

export function attempt<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}
