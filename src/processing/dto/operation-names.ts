/**
 * The operations a request may name, as the OpenAPI document lists them (an enum generated
 * clients type). The registry is the authority; test/openapi-contract.e2e-spec.ts checks the two agree.
 */
export const DOCUMENTED_OPERATIONS = ['validate', 'transform', 'enrich', 'analyze', 'export', 'thumbnail'];
