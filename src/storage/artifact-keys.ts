/** Where each result lives in the bucket; identifiers are validated so they are safe key prefixes. */
export const artifactKeys = {
  objectPrefix: (identifier: string) => `${identifier}/`,
  result: (identifier: string, operation: string) => `${identifier}/${operation}_result.json`,
  file: (identifier: string, operation: string, name: string) => `${identifier}/${operation}/${name}`,
  /** The prefix of every file of one operation (`file` keys). */
  files: (identifier: string, operation: string) => `${identifier}/${operation}/`,
  source: (identifier: string, fileName: string) => `${identifier}/source/${fileName}`,
};
