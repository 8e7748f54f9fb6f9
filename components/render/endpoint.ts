/** How clients write the registry's address: `host`, `host:port`, `[v6]:port`. */
export function hostPort(host: string, port: number): string {
    const bracketed = host.includes(":") ? `[${host}]` : host;
    return port === 443 ? bracketed : `${bracketed}:${port}`;
}

export function httpsUrl(host: string, port: number, path = "/"): string {
    return `https://${hostPort(host, port)}${path}`;
}
