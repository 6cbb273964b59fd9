// Schema parts the resources share; every request body refuses unknown fields.
import Type from 'typebox'

export const strict = { additionalProperties: false } as const

export const NoContent = Type.Null({ description: 'No Content' })
