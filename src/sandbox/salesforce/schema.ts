/** Field lists the emulator knows before any record is inserted. */

export const STANDARD_FIELDS = [
  'Id',
  'Name',
  'CreatedDate',
  'LastModifiedDate',
  'SystemModstamp',
  'IsDeleted',
  'CreatedById',
  'LastModifiedById',
  'OwnerId',
] as const

/** Set by the platform, never by a client write. */
export const READ_ONLY_FIELDS = new Set(
  [
    'Id',
    'CreatedDate',
    'LastModifiedDate',
    'SystemModstamp',
    'IsDeleted',
    'CreatedById',
    'LastModifiedById',
  ].map((f) => f.toLowerCase()),
)

/** A few well-known fields per standard object, so writes to them work without seeding first. */
export const KNOWN_OBJECTS: Record<string, readonly string[]> = {
  Account: ['AccountNumber', 'Type', 'Industry', 'ParentId', 'Site'],
  Contact: ['FirstName', 'LastName', 'Email', 'AccountId'],
  Opportunity: ['AccountId', 'StageName', 'CloseDate', 'Amount'],
  Case: ['CaseNumber', 'Subject', 'Status', 'AccountId', 'ContactId'],
  Order: ['OrderNumber', 'AccountId', 'Status', 'EffectiveDate'],
  Product2: ['ProductCode', 'Family', 'IsActive'],
  Campaign: ['Status', 'Type', 'IsActive'],
  Quote: ['QuoteNumber', 'OpportunityId', 'Status'],
  User: ['Username', 'Email', 'FirstName', 'LastName', 'IsActive'],
  Lead: ['FirstName', 'LastName', 'Company', 'Email', 'Status'],
}

/** S-Drive file-object fields without namespace (reference §3). */
export const SDRIVE_FILE_FIELDS = [
  'Bucket_Id__c',
  'Checked_Out_By__c',
  'Content_Type__c',
  'Description__c',
  'File_Name__c',
  'File_Size__c',
  'File_Size_in_Bytes__c',
  'Is_Deleted__c',
  'Is_Latest_Version__c',
  'Is_Parent_Deleted__c',
  'Key__c',
  'Lock_State__c',
  'Page_Count__c',
  'Parent__c',
  'Parent_Folder_Id__c',
  'Preview_Key__c',
  'Preview_Version_Id__c',
  'Thumbnail_Key__c',
  'Thumbnail_Version_Id__c',
  'Private__c',
  'Shortcut__c',
  'Sync_Id__c',
  'Tags__c',
  'Version_Description__c',
  'Version_Id__c',
  'WIP__c',
] as const

/** Packaged file objects and the parent each one hangs off. */
export const PACKAGED_FILE_OBJECTS: Record<string, string | undefined> = {
  cg__AccountFile__c: 'Account',
  cg__CaseFile__c: 'Case',
  cg__ContactFile__c: 'Contact',
  cg__OpportunityFile__c: 'Opportunity',
  cg__LeadFile__c: 'Lead',
  cg__S3Object__c: undefined,
}

/** Packaged objects and fields carry the cg__ namespace; customer-made ones do not. */
export function sdriveFieldPrefix(fileObject: string): string {
  return fileObject.toLowerCase().startsWith('cg__') ? 'cg__' : ''
}

/** The schema a file object starts with: every S-Drive field plus its parent lookup. */
export function fileObjectFields(fileObject: string, parentField?: string): string[] {
  const prefix = sdriveFieldPrefix(fileObject)
  const fields = SDRIVE_FILE_FIELDS.map((f) => `${prefix}${f}`)
  const parent = PACKAGED_FILE_OBJECTS[fileObject]
  if (parent) fields.push(`cg__${parent}__c`)
  if (parentField) fields.push(parentField)
  return fields
}

/** S-Drive's File_Size__c formula (reference §3). */
export function formatFileSize(bytes: number): string {
  const units: [number, string][] = [
    [1073741824, 'GB'],
    [1048576, 'MB'],
    [1024, 'KB'],
  ]
  for (const [size, unit] of units) {
    if (bytes > size) return `${Math.round((bytes / size) * 100) / 100} ${unit}`
  }
  return `${bytes} bytes`
}
