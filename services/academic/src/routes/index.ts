// Every /academic route: one plugin per resource, registered here. Typed errors of the
// use-cases become problems in one place (problems.ts). Authentication is set per resource
// scope, not here: browsing approved tutor profiles is open to anonymous callers.
import { type App, mapErrors } from '@tms/http'
import type { AcademicDeps } from '../use-cases/deps.ts'
import { classSessionRoutes } from './class-sessions.ts'
import { problemFor } from './problems.ts'
import { tutorDocumentRoutes } from './tutor-documents.ts'
import { tutorProfileRoutes } from './tutor-profiles.ts'

export async function academicRoutes(app: App, { deps }: { deps: AcademicDeps }) {
  mapErrors(app, problemFor)
  await app.register(tutorProfileRoutes, { prefix: '/tutor-profiles', deps })
  await app.register(tutorDocumentRoutes, { prefix: '/tutor-profiles', deps })
  await app.register(classSessionRoutes, { prefix: '/class-sessions', deps })
}
