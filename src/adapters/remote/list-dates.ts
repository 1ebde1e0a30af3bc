/**
 * Dates in LIST output, which carry no zone and little precision. Servers
 * (vsftpd by default, ftp-srv always) print them in UTC; Unix listings show
 * "Mon DD HH:MM" for the last six months and "Mon DD  YYYY" before that.
 */
const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const dayMs = 86_400_000

/** Epoch ms, or undefined when the text is in no format we know. */
export function parseListDate(raw: string, now: number): number | undefined {
  const text = raw.trim().replace(/\s+/g, ' ')
  const recent = /^([A-Za-z]{3}) (\d{1,2}) (\d{1,2}):(\d{2})$/.exec(text)
  if (recent) {
    const month = months.indexOf(recent[1]!.toLowerCase())
    if (month === -1) return undefined
    const year = new Date(now).getUTCFullYear()
    const at = (y: number) => Date.UTC(y, month, Number(recent[2]), Number(recent[3]), Number(recent[4]))
    // No year means "within the last six months": a date ahead of now belongs to last year.
    return at(year) > now + dayMs ? at(year - 1) : at(year)
  }
  const older = /^([A-Za-z]{3}) (\d{1,2}) (\d{4})$/.exec(text)
  if (older) {
    const month = months.indexOf(older[1]!.toLowerCase())
    return month === -1 ? undefined : Date.UTC(Number(older[3]), month, Number(older[2]))
  }
  const dos = /^(\d{2})-(\d{2})-(\d{2}|\d{4}) (\d{1,2}):(\d{2}) ?([AP]M)?$/i.exec(text)
  if (dos) {
    const shortYear = Number(dos[3])
    const year = dos[3]!.length === 2 ? (shortYear < 70 ? 2000 + shortYear : 1900 + shortYear) : shortYear
    const meridiem = dos[6]?.toUpperCase()
    let hour = Number(dos[4])
    if (meridiem === 'AM' && hour === 12) hour = 0
    else if (meridiem === 'PM' && hour < 12) hour += 12
    return Date.UTC(year, Number(dos[1]) - 1, Number(dos[2]), hour, Number(dos[5]))
  }
  return undefined
}
