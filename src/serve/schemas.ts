// JSON schemas of the HTTP API's request bodies (fastify validates them with ajv before a handler
// runs). Tensor data is an array of numbers, or a base64 string of its little-endian bytes.
const hash = { type: 'string', pattern: '^0x[0-9a-f]{64}$' } as const;
const jobId = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } as const;

export const tensorSchema = {
  type: 'object',
  required: ['dtype', 'shape', 'data'],
  additionalProperties: false,
  properties: {
    dtype: { enum: ['float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'bool'] },
    shape: { type: 'array', maxItems: 16, items: { type: 'integer', minimum: 0, maximum: 2147483647 } },
    data: { anyOf: [{ type: 'array', items: { anyOf: [{ type: 'number' }, { type: 'string' }] } }, { type: 'string' }] },
  },
} as const;

export const inferBody = {
  type: 'object',
  required: ['modelHash', 'inputs'],
  additionalProperties: false,
  properties: {
    modelHash: hash,
    inputs: { type: 'object', minProperties: 1, maxProperties: 64, additionalProperties: tensorSchema },
    trace: { type: 'boolean' },
    jobId,
    priority: { type: 'integer', minimum: -1000, maximum: 1000 },
  },
} as const;

export const inferQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { async: { enum: ['0', '1', 'true', 'false'] } },
} as const;

export const jobParams = {
  type: 'object',
  required: ['id'],
  properties: { id: jobId },
} as const;
