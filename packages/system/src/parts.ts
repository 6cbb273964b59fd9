// The processes the system is made of: each service and the gateway, where it lives in the
// repository, its default port and what says it is ready.

export const partNames = ['auth', 'user-wallet', 'academic', 'gateway'] as const
export type PartName = (typeof partNames)[number]

export interface Part {
  name: PartName
  /** Its folder, relative to the repository's root; it runs `node src/main.ts` there. */
  dir: string
  port: number
  /** A service's readiness; the gateway's own (it answers once it can check tokens). */
  readyPath: string
}

export const parts: Record<PartName, Part> = {
  auth: { name: 'auth', dir: 'services/auth', port: 8001, readyPath: '/health/ready' },
  'user-wallet': {
    name: 'user-wallet',
    dir: 'services/user-wallet',
    port: 8002,
    readyPath: '/health/ready',
  },
  academic: { name: 'academic', dir: 'services/academic', port: 8003, readyPath: '/health/ready' },
  gateway: { name: 'gateway', dir: 'gateway', port: 8000, readyPath: '/health/ready' },
}
