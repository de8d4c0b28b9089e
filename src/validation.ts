import { Ajv2020 } from 'ajv/dist/2020.js'
import * as addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule.default as unknown as (ajv: Ajv2020, formats: string[]) => Ajv2020

function makeAjv(coerceTypes: boolean): Ajv2020 {
  const ajv = new Ajv2020({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false })
  addFormats(ajv, ['date-time', 'uri'])
  return ajv
}

/**
 * JSON Schema 2020-12 validation for every route. Bodies are validated as sent (no type coercion:
 * `"1"` is not a number); query strings and path parameters are text on the wire, so they are coerced.
 * The schemas served at /v1/schemas are the very objects compiled here.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = makeAjv(false)
  const textAjv = makeAjv(true)
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv
    const { $id: _id, ...rest } = schema as Record<string, unknown>
    return ajv.compile(rest)
  }
}
