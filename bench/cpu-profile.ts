// Reads a V8 CPU profile (node --cpu-prof) and says where the time went: the functions with
// the most self time, and the self time by where the code lives (a package, Node's internals,
// the project's own files, the garbage collector, idle).
//   node bench/cpu-profile.ts <file.cpuprofile> [top]
import { readFileSync } from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Where a frame's code lives: `pkg:<name>`, `node:internal`, `tms:<path>`, or V8's own. */
function placeOf(frame: CallFrame): string {
  const { url, functionName } = frame
  if (url === '') {
    if (functionName === '(idle)') return '(idle)'
    if (functionName === '(garbage collector)') return '(gc)'
    if (functionName === '(program)') return '(program)'
    return '(native)'
  }
  if (url.startsWith('node:')) return 'node:internal'
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return `pkg:${pkg[1]}`
  const own = /\/(packages|services|gateway|bench)\/([^/]+)\//.exec(url)
  if (own) return `tms:${own[1]}/${own[2]}`
  return url
}

export interface ProfileSummary {
  totalMs: number
  /** Self time by place, largest first, in ms and as a share of the non-idle time. */
  places: { place: string; ms: number; share: number }[]
  functions: { name: string; place: string; ms: number; share: number }[]
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const places = new Map<string, number>()
  const functions = new Map<string, { place: string; us: number }>()
  let busyUs = 0
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame
    const place = placeOf(frame)
    places.set(place, (places.get(place) ?? 0) + us)
    if (place === '(idle)') continue
    busyUs += us
    const where = frame.url ? `${frame.url.split('/').slice(-1)[0]}:${frame.lineNumber + 1}` : ''
    const name = `${frame.functionName || '(anonymous)'} ${where}`.trim()
    const entry = functions.get(name) ?? { place, us: 0 }
    entry.us += us
    functions.set(name, entry)
  }
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0)
  return {
    totalMs: busyUs / 1000,
    places: [...places]
      .filter(([place]) => place !== '(idle)')
      .map(([place, us]) => ({ place, ms: us / 1000, share: share(us) }))
      .sort((a, b) => b.ms - a.ms),
    functions: [...functions]
      .map(([name, { place, us }]) => ({ name, place, ms: us / 1000, share: share(us) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  }
}

export function printProfile(file: string, top = 20): void {
  const summary = summarizeProfile(file, top)
  const pct = (s: number) => `${(s * 100).toFixed(1).padStart(5)} %`
  console.log(`\nCPU profile ${file}: ${summary.totalMs.toFixed(0)} ms busy (idle left out)`)
  console.log('  self time by place:')
  for (const p of summary.places.slice(0, 14)) console.log(`    ${pct(p.share)}  ${p.place}`)
  console.log('  functions with the most self time:')
  for (const f of summary.functions) console.log(`    ${pct(f.share)}  ${f.name}  [${f.place}]`)
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2)
  if (!file) {
    console.error('usage: node bench/cpu-profile.ts <file.cpuprofile> [top]')
    process.exit(2)
  }
  printProfile(file, Number(top ?? 25))
}
