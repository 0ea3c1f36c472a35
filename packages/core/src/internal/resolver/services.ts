// Service names (`"https"`) and their ports: the `/etc/services` format and
// netfx's own table of well-known services.

/** Parses a services database in the `/etc/services` format into `name/protocol` → port (aliases included). */
export const parseServices = (text: string): ReadonlyMap<string, number> => {
  const table = new Map<string, number>()
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim()
    if (line === "") continue
    const [name, portProto, ...aliases] = line.split(/\s+/)
    const m = /^(\d+)\/(tcp|udp)$/i.exec(portProto ?? "")
    if (name === undefined || m === null) continue
    const port = Number(m[1])
    if (port > 65535) continue
    const protocol = (m[2] as string).toLowerCase()
    for (const n of [name, ...aliases]) {
      const key = `${n}/${protocol}`
      // the first entry wins, as getservbyname(3) reads the file
      if (!table.has(key)) table.set(key, port)
    }
  }
  return table
}

/** Well-known services (IANA names and ports, with the common aliases). */
const WELL_KNOWN = parseServices(
  [
    "echo 7/tcp",
    "echo 7/udp",
    "discard 9/tcp sink",
    "discard 9/udp sink",
    "daytime 13/tcp",
    "daytime 13/udp",
    "ftp-data 20/tcp",
    "ftp 21/tcp",
    "ssh 22/tcp",
    "telnet 23/tcp",
    "smtp 25/tcp mail",
    "time 37/tcp",
    "time 37/udp",
    "whois 43/tcp nicname",
    "domain 53/tcp",
    "domain 53/udp",
    "bootps 67/udp",
    "bootpc 68/udp",
    "tftp 69/udp",
    "gopher 70/tcp",
    "finger 79/tcp",
    "http 80/tcp www",
    "kerberos 88/tcp kerberos5",
    "kerberos 88/udp kerberos5",
    "pop3 110/tcp pop-3",
    "sunrpc 111/tcp portmapper",
    "sunrpc 111/udp portmapper",
    "nntp 119/tcp readnews",
    "ntp 123/udp",
    "netbios-ns 137/udp",
    "netbios-dgm 138/udp",
    "netbios-ssn 139/tcp",
    "imap2 143/tcp imap",
    "snmp 161/tcp",
    "snmp 161/udp",
    "snmp-trap 162/tcp snmptrap",
    "snmp-trap 162/udp snmptrap",
    "bgp 179/tcp",
    "ldap 389/tcp",
    "ldap 389/udp",
    "https 443/tcp",
    "https 443/udp",
    "microsoft-ds 445/tcp",
    "submissions 465/tcp ssmtp",
    "syslog 514/udp",
    "printer 515/tcp spooler",
    "rtsp 554/tcp",
    "rtsp 554/udp",
    "submission 587/tcp",
    "ipp 631/tcp",
    "ldaps 636/tcp",
    "ldaps 636/udp",
    "domain-s 853/tcp",
    "domain-s 853/udp",
    "rsync 873/tcp",
    "ftps 990/tcp",
    "imaps 993/tcp",
    "pop3s 995/tcp",
    "socks 1080/tcp",
    "openvpn 1194/tcp",
    "openvpn 1194/udp",
    "radius 1812/tcp",
    "radius 1812/udp",
    "radius-acct 1813/tcp radacct",
    "radius-acct 1813/udp radacct",
    "nfs 2049/tcp",
    "nfs 2049/udp",
    "mysql 3306/tcp",
    "svn 3690/tcp subversion",
    "sip 5060/tcp",
    "sip 5060/udp",
    "sip-tls 5061/tcp",
    "sip-tls 5061/udp",
    "xmpp-client 5222/tcp jabber-client",
    "xmpp-server 5269/tcp jabber-server",
    "mdns 5353/udp",
    "postgresql 5432/tcp postgres",
    "amqps 5671/tcp",
    "amqp 5672/tcp",
    "x11 6000/tcp x11-0",
    "redis 6379/tcp",
    "http-alt 8080/tcp webcache",
    "git 9418/tcp",
  ].join("\n"),
)

/** See `Resolver.wellKnownService`. */
export const wellKnownService = (name: string, protocol: "tcp" | "udp"): number | undefined =>
  WELL_KNOWN.get(`${name}/${protocol}`)
