#!/usr/bin/env node
// Validates HAR files against the HAR 1.2 JSON schema (har-schema).
// Usage: node validate.js FILE...
// Exit status: 0 when every file is valid, 1 when any is not (errors on stderr), 2 on usage.
//
// Two passes over each file:
//  1. har-validator, the tool HAR consumers use (ajv 6, loose "fast" formats);
//  2. the same schemas with ajv's "full" formats: `uri` per RFC 3986 and `date-time` per
//     RFC 3339 strictly, so a URL a browser would reject is caught too.
'use strict'

const fs = require('fs')
const Ajv = require('ajv')
const schemas = require('har-schema')
const validator = require('har-validator')

const strict = new Ajv({ allErrors: true, format: 'full' })
strict.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'))
strict.addSchema(schemas)
const strictHar = strict.getSchema('har.json')

function describe (file, pass, errors) {
  return errors.map((x) => `${file}: [${pass}] ${x.dataPath || ''} ${x.message} ${JSON.stringify(x.params || {})}`)
}

async function validateFile (file) {
  let data
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (e) {
    return [`${file}: cannot read or parse: ${e.message}`]
  }
  const out = []
  try {
    await validator.har(data)
  } catch (e) {
    out.push(...describe(file, 'har-validator', e.errors || [{ message: e.message }]))
  }
  if (!strictHar(data)) {
    out.push(...describe(file, 'strict', strictHar.errors))
  }
  return out
}

async function main () {
  const files = process.argv.slice(2)
  if (files.length === 0) {
    console.error('usage: node validate.js FILE...')
    process.exit(2)
  }
  let bad = 0
  for (const f of files) {
    const errors = await validateFile(f)
    if (errors.length > 0) {
      bad++
      errors.forEach((e) => console.error(e))
    }
  }
  console.log(`${files.length - bad} of ${files.length} HAR files valid`)
  process.exit(bad === 0 ? 0 : 1)
}

main()
