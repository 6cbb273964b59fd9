// One pino JSON log line as a person reads it in a terminal: time, service (a colour each),
// level, message, then the line's other fields as key=value; an error's stack below it.

export type LogLine = Record<string, unknown>

const codes = {
  reset: 0,
  bold: 1,
  dim: 2,
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  gray: 90,
} as const

export function paint(style: keyof typeof codes, text: string): string {
  return `\u001b[${codes[style]}m${text}\u001b[0m`
}

const serviceColours = ['cyan', 'magenta', 'blue', 'green', 'yellow'] as const
const assigned = new Map<string, (typeof serviceColours)[number]>()

function serviceColour(service: string) {
  let colour = assigned.get(service)
  if (!colour) {
    colour = serviceColours[assigned.size % serviceColours.length] ?? 'cyan'
    assigned.set(service, colour)
  }
  return colour
}

const levels: Record<number, [string, keyof typeof codes]> = {
  10: ['TRACE', 'gray'],
  20: ['DEBUG', 'gray'],
  30: ['INFO ', 'green'],
  40: ['WARN ', 'yellow'],
  50: ['ERROR', 'red'],
  60: ['FATAL', 'red'],
}

/** Fields every line has, shown in the line's head rather than as key=value. */
const head = new Set(['level', 'time', 'service', 'msg', 'pid', 'hostname', 'err'])

function value(v: unknown): string {
  const text = typeof v === 'string' ? v : JSON.stringify(v)
  return text.length > 200 ? `${text.slice(0, 197)}...` : text
}

export function formatLine(line: LogLine): string {
  const time = typeof line.time === 'string' ? line.time.slice(11, 19) : '        '
  const service = String(line.service ?? '?')
  const [label, colour] = levels[Number(line.level)] ?? ['?    ', 'gray']
  const fields = Object.entries(line)
    .filter(([k, v]) => !head.has(k) && v !== undefined)
    .map(([k, v]) => paint('dim', `${k}=${value(v)}`))
  let text = [
    paint('gray', time),
    paint(serviceColour(service), service.padEnd(11)),
    paint(colour, label),
    String(line.msg ?? ''),
    ...fields,
  ].join(' ')
  const err = line.err as { message?: string; stack?: string } | undefined
  if (err) {
    const detail = err.stack ?? err.message ?? JSON.stringify(err)
    text += `\n${paint('dim', detail.replace(/^/gm, '    '))}`
  }
  return text
}
