// Schemas of the `tutor-profiles` resource and its documents; every JSON body refuses unknown
// fields. The forms (multipart) are read as streams by tutor-profiles-form.ts: their schemas
// here describe them for OpenAPI.
import Type, { type Static, type TSchema } from 'typebox'
import {
  MAX_BIO_LENGTH,
  MAX_CERTIFICATES,
  MAX_HOURLY_RATE,
  MAX_REVIEW_NOTE_LENGTH,
  MAX_SUBJECT_LENGTH,
  MAX_SUBJECTS,
  MIN_HOURLY_RATE,
} from '../../domain/profiles.ts'

const strict = { additionalProperties: false } as const
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const Time = Type.String({ format: 'date-time' })

/** Ids are opaque, but always URL-safe tokens: never blank or spaced. */
const Id = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })
const ReviewStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('approved'),
  Type.Literal('rejected'),
])
const ReviewDecision = Type.Union([Type.Literal('approved'), Type.Literal('rejected')])
const ReviewNote = Nullable(Type.String({ maxLength: MAX_REVIEW_NOTE_LENGTH }))
const HourlyRate = Type.Integer({
  minimum: MIN_HOURLY_RATE,
  maximum: MAX_HOURLY_RATE,
  description: 'minor units of the currency (cents) per hour',
})

export const ProfileParams = Type.Object({ profile_id: Id }, strict)
export const DocumentParams = Type.Object({ profile_id: Id, document_id: Id }, strict)

export const BrowseQuery = Type.Object(
  {
    user_id: Type.Optional(Id),
    status: Type.Optional(ReviewStatus),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SUBJECT_LENGTH })),
    min_rate: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_HOURLY_RATE })),
    max_rate: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_HOURLY_RATE })),
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'text in bio or subjects' }),
    ),
    sort: Type.Optional(
      Type.Union([Type.Literal('newest'), Type.Literal('rate_asc'), Type.Literal('rate_desc')], {
        default: 'newest',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  strict,
)

export const DocumentView = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('cv'), Type.Literal('id_card'), Type.Literal('certificate')]),
  filename: Type.String({ description: 'the uploaded name, made safe, with the real extension' }),
  content_type: Type.String({ description: 'decided from the bytes' }),
  size: Type.Integer({ description: 'bytes' }),
  sha256: Type.String({ description: 'hex SHA-256 of the bytes' }),
  status: ReviewStatus,
  review_note: Nullable(Type.String()),
  reviewed_by: Type.Optional(Nullable(Type.String({ description: 'admins only' }))),
  reviewed_at: Nullable(Time),
  created_at: Time,
})

export const ProfileView = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  username: Nullable(Type.String()),
  name: Nullable(Type.String()),
  status: ReviewStatus,
  bio: Type.String(),
  subjects: Type.Array(Type.String()),
  hourly_rate: Type.Integer(),
  currency: Type.String(),
  review_note: Type.Optional(Nullable(Type.String())),
  reviewed_by: Type.Optional(Nullable(Type.String())),
  reviewed_at: Type.Optional(Nullable(Time)),
  created_at: Time,
  updated_at: Time,
  documents: Type.Optional(
    Type.Array(DocumentView, { description: 'for the profile’s tutor and admins only' }),
  ),
})

export const ProfilePage = Type.Object({
  items: Type.Array(ProfileView),
  next_cursor: Nullable(Type.String()),
})

export const DocumentList = Type.Object({ items: Type.Array(DocumentView) })

export const UpdateBody = Type.Object(
  {
    bio: Type.Optional(Type.String({ maxLength: MAX_BIO_LENGTH })),
    subjects: Type.Optional(
      Type.Union([
        Type.Array(Type.String({ maxLength: MAX_SUBJECT_LENGTH }), { maxItems: MAX_SUBJECTS }),
        Type.String({ maxLength: MAX_SUBJECTS * (MAX_SUBJECT_LENGTH + 2) }),
      ]),
    ),
    hourly_rate: Type.Optional(HourlyRate),
    status: Type.Optional(ReviewDecision),
    review_note: Type.Optional(ReviewNote),
  },
  {
    ...strict,
    description: 'The tutor: bio, subjects, hourly_rate. An admin also status and review_note.',
  },
)

export const DocumentReviewBody = Type.Object(
  { status: ReviewDecision, review_note: Type.Optional(ReviewNote) },
  strict,
)

const File = (description: string) => Type.String({ format: 'binary', description })
const documentFiles = {
  cv: Type.Optional(File('PDF, PNG, JPEG or WebP, at most 10 MiB')),
  id_card: Type.Optional(File('PDF, PNG, JPEG or WebP, at most 10 MiB')),
  certificates: Type.Optional(
    Type.Array(File('PDF, PNG, JPEG or WebP, at most 10 MiB each'), {
      maxItems: MAX_CERTIFICATES,
    }),
  ),
}

/** For OpenAPI: the create form (its rules are checked as it streams in). */
export const CreateForm = Type.Object(
  {
    bio: Type.Optional(Type.String({ maxLength: MAX_BIO_LENGTH })),
    subjects: Type.Optional(Type.String({ description: 'comma-separated; required' })),
    hourly_rate: Type.Optional(Type.String({ description: 'minor units per hour; required' })),
    currency: Type.Optional(Type.String({ description: 'the deployment’s currency if given' })),
    user_id: Type.Optional(Type.String({ description: 'admins only: whose profile' })),
    ...documentFiles,
  },
  { description: 'multipart/form-data; `cv` is required' },
)

/** For OpenAPI: the form that adds documents. */
export const DocumentsForm = Type.Object(documentFiles, {
  description: 'multipart/form-data; a new cv or id_card replaces the current one',
})

export type ProfileViewType = Static<typeof ProfileView>
export type DocumentViewType = Static<typeof DocumentView>
