/**
 * The API's request and answer shapes, generated from the OpenAPI document: `make web` writes
 * shared/api/schema.ts (openapi-typescript, git-ignored) from `zhengding openapi`. Name a shape
 * by its Python schema: `Schemas['ItemRead']`. Never write an answer's interface by hand.
 */
import type { components } from './schema'

export type Schemas = components['schemas']
