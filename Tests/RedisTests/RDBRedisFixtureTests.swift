import Testing
@testable import Redis

/// A dump.rdb written by redis-server 7.0.15 (SAVE) after these commands, with
/// list-max-listpack-size 4, list-compress-depth 1 and DEBUG QUICKLIST-PACKED-THRESHOLD 10
/// so that it holds every encoding 7.0 writes: quicklist 2 with packed, LZF-compressed
/// and plain nodes, intset, plain set, listpack and hashtable hashes, listpack and skiplist
/// zsets (ZSET_2), int-encoded, raw and LZF strings, an expiry, and a second database:
///
///     SET str hello; SET int 12345; SET big <"x" * 100>; SET vol v PX 100000000
///     RPUSH lsmall a b 1 -5 70000 c
///     RPUSH lbig item0item0item0 ... item19item19item19
///     RPUSH lplain short a-very-long-element-over-threshold z
///     SADD sint 1 2 3 -100 100000 5000000000; SADD sstr x y z
///     HSET hsmall f1 v1 f2 2 f3 -7; HSET hbig field<i> (value<i> * 10), i < 200
///     ZADD zsmall 1 a 2.5 b -3 c inf d; ZADD zbig (i * 1.5) m<i>, i < 200
///     SELECT 2; SET indb2 yes
let redis7Dump = """
    UkVESVMwMDEw+glyZWRpcy12ZXIGNy4wLjE1+gpyZWRpcy1iaXRzwED6BWN0aW1lwvgkBGv6CHVzZWQtbWVtwmhcEgD6CGFvZi1i
    YXNlwAD+APsNARIEbGJpZwUCwy1ASwtLAAAABACPaXRlbTDgAQQAEGAQADFAEIAEgBAAMkAQgASAEAAzQBCABAEQ/wLDLUBLC0sA
    AAAEAI9pdGVtNOABBAAQYBAANUAQgASAEAA2QBCABIAQADdAEIAEARD/AsMyQFELUQAAAAQAj2l0ZW044AEEABBgEAA5QBCABAEQ
    kkALATEw4AMFABOAEwAxYBOgBQET/wLDLkBXDFcAAAAEAJJpdGVtMTLgAwUAE4ATADNgE6AFoBMANGAToAWgEwA1YBOgBQET/wLD
    LkBXDFcAAAAEAJJpdGVtMTbgAwUAE4ATADdgE6AFoBMAOGAToAWgEwA5YBOgBQET/wADYmlnwwlAZAF4eOBXAAF4eAQEaGJpZ0DI
    B2ZpZWxkNzTDD0BGB3ZhbHVlNzR24DMGATc0CGZpZWxkMTgywxBAUAh2YWx1ZTE4MnbgPAcBODIHZmllbGQ2NMMPQEYHdmFsdWU2
    NHbgMwYBNjQIZmllbGQxMDHDEEBQCHZhbHVlMTAxduA8BwEwMQhmaWVsZDE4OMMQQFAIdmFsdWUxODh24DwHATg4B2ZpZWxkNDDD
    D0BGB3ZhbHVlNDB24DMGATQwB2ZpZWxkODPDD0BGB3ZhbHVlODN24DMGATgzB2ZpZWxkNTLDD0BGB3ZhbHVlNTJ24DMGATUyCGZp
    ZWxkMTAzwxBAUAh2YWx1ZTEwM3bgPAcBMDMHZmllbGQ4MsMPQEYHdmFsdWU4MnbgMwYBODIHZmllbGQ3MMMPQEYHdmFsdWU3MHbg
    MwYBNzAHZmllbGQ4McMPQEYHdmFsdWU4MXbgMwYBODEIZmllbGQxMzjDEEBQCHZhbHVlMTM4duA8BwEzOAhmaWVsZDEzN8MQQFAI
    dmFsdWUxMzd24DwHATM3B2ZpZWxkMzjDD0BGB3ZhbHVlMzh24DMGATM4CGZpZWxkMTk5wxBAUAh2YWx1ZTE5OXbgPAcBOTkIZmll
    bGQxODXDEEBQCHZhbHVlMTg1duA8BwE4NQhmaWVsZDEzNcMQQFAIdmFsdWUxMzV24DwHATM1B2ZpZWxkNjXDD0BGB3ZhbHVlNjV2
    4DMGATY1B2ZpZWxkODXDD0BGB3ZhbHVlODV24DMGATg1CGZpZWxkMTA1wxBAUAh2YWx1ZTEwNXbgPAcBMDUHZmllbGQ2MsMPQEYH
    dmFsdWU2MnbgMwYBNjIHZmllbGQxNMMPQEYHdmFsdWUxNHbgMwYBMTQIZmllbGQxMDjDEEBQCHZhbHVlMTA4duA8BwEwOAdmaWVs
    ZDQ4ww9ARgd2YWx1ZTQ4duAzBgE0OAhmaWVsZDE5M8MQQFAIdmFsdWUxOTN24DwHATkzBmZpZWxkNcMOPAZ2YWx1ZTV24CoFAWU1
    B2ZpZWxkMjDDD0BGB3ZhbHVlMjB24DMGATIwCGZpZWxkMTU4wxBAUAh2YWx1ZTE1OHbgPAcBNTgHZmllbGQxNcMPQEYHdmFsdWUx
    NXbgMwYBMTUHZmllbGQzM8MPQEYHdmFsdWUzM3bgMwYBMzMHZmllbGQzNcMPQEYHdmFsdWUzNXbgMwYBMzUHZmllbGQ5NsMPQEYH
    dmFsdWU5NnbgMwYBOTYIZmllbGQxNjHDEEBQCHZhbHVlMTYxduA8BwE2MQdmaWVsZDU4ww9ARgd2YWx1ZTU4duAzBgE1OAdmaWVs
    ZDkzww9ARgd2YWx1ZTkzduAzBgE5MwdmaWVsZDIxww9ARgd2YWx1ZTIxduAzBgEyMQhmaWVsZDE0MsMQQFAIdmFsdWUxNDJ24DwH
    ATQyCGZpZWxkMTM0wxBAUAh2YWx1ZTEzNHbgPAcBMzQIZmllbGQxNzDDEEBQCHZhbHVlMTcwduA8BwE3MAdmaWVsZDI5ww9ARgd2
    YWx1ZTI5duAzBgEyOQhmaWVsZDE4McMQQFAIdmFsdWUxODF24DwHATgxCGZpZWxkMTI1wxBAUAh2YWx1ZTEyNXbgPAcBMjUHZmll
    bGQyN8MPQEYHdmFsdWUyN3bgMwYBMjcIZmllbGQxODbDEEBQCHZhbHVlMTg2duA8BwE4NghmaWVsZDExOMMQQFAIdmFsdWUxMTh2
    4DwHATE4CGZpZWxkMTczwxBAUAh2YWx1ZTE3M3bgPAcBNzMIZmllbGQxNjTDEEBQCHZhbHVlMTY0duA8BwE2NAdmaWVsZDczww9A
    Rgd2YWx1ZTczduAzBgE3MwhmaWVsZDE5MMMQQFAIdmFsdWUxOTB24DwHATkwCGZpZWxkMTg5wxBAUAh2YWx1ZTE4OXbgPAcBODkH
    ZmllbGQ2NsMPQEYHdmFsdWU2NnbgMwYBNjYHZmllbGQ3MsMPQEYHdmFsdWU3MnbgMwYBNzIIZmllbGQxNjLDEEBQCHZhbHVlMTYy
    duA8BwE2MgdmaWVsZDQ2ww9ARgd2YWx1ZTQ2duAzBgE0NgdmaWVsZDI4ww9ARgd2YWx1ZTI4duAzBgEyOAdmaWVsZDEzww9ARgd2
    YWx1ZTEzduAzBgExMwhmaWVsZDE5OMMQQFAIdmFsdWUxOTh24DwHATk4CGZpZWxkMTE3wxBAUAh2YWx1ZTExN3bgPAcBMTcGZmll
    bGQ5ww48BnZhbHVlOXbgKgUBZTkGZmllbGQyww48BnZhbHVlMnbgKgUBZTIIZmllbGQxMTDDEEBQCHZhbHVlMTEwduA8BwExMAdm
    aWVsZDQyww9ARgd2YWx1ZTQyduAzBgE0MghmaWVsZDEzOcMQQFAIdmFsdWUxMzl24DwHATM5CGZpZWxkMTUywxBAUAh2YWx1ZTE1
    MnbgPAcBNTIIZmllbGQxMDLDEEBQCHZhbHVlMTAyduA8BwEwMgdmaWVsZDk0ww9ARgd2YWx1ZTk0duAzBgE5NAhmaWVsZDE0NsMQ
    QFAIdmFsdWUxNDZ24DwHATQ2B2ZpZWxkMTnDD0BGB3ZhbHVlMTl24DMGATE5CGZpZWxkMTA2wxBAUAh2YWx1ZTEwNnbgPAcBMDYH
    ZmllbGQzNMMPQEYHdmFsdWUzNHbgMwYBMzQHZmllbGQzMcMPQEYHdmFsdWUzMXbgMwYBMzEIZmllbGQxMjPDEEBQCHZhbHVlMTIz
    duA8BwEyMwhmaWVsZDE3N8MQQFAIdmFsdWUxNzd24DwHATc3B2ZpZWxkNTnDD0BGB3ZhbHVlNTl24DMGATU5BmZpZWxkM8MOPAZ2
    YWx1ZTN24CoFAWUzB2ZpZWxkMTHDD0BGB3ZhbHVlMTF24DMGATExB2ZpZWxkODDDD0BGB3ZhbHVlODB24DMGATgwB2ZpZWxkMzDD
    D0BGB3ZhbHVlMzB24DMGATMwCGZpZWxkMTE1wxBAUAh2YWx1ZTExNXbgPAcBMTUIZmllbGQxNTPDEEBQCHZhbHVlMTUzduA8BwE1
    MwhmaWVsZDE5MsMQQFAIdmFsdWUxOTJ24DwHATkyCGZpZWxkMTkxwxBAUAh2YWx1ZTE5MXbgPAcBOTEIZmllbGQxNzTDEEBQCHZh
    bHVlMTc0duA8BwE3NAhmaWVsZDE2NcMQQFAIdmFsdWUxNjV24DwHATY1CGZpZWxkMTA5wxBAUAh2YWx1ZTEwOXbgPAcBMDkIZmll
    bGQxNzbDEEBQCHZhbHVlMTc2duA8BwE3NgdmaWVsZDQ0ww9ARgd2YWx1ZTQ0duAzBgE0NAdmaWVsZDU1ww9ARgd2YWx1ZTU1duAz
    BgE1NQdmaWVsZDg3ww9ARgd2YWx1ZTg3duAzBgE4NwhmaWVsZDE1NcMQQFAIdmFsdWUxNTV24DwHATU1B2ZpZWxkMzbDD0BGB3Zh
    bHVlMzZ24DMGATM2B2ZpZWxkNjDDD0BGB3ZhbHVlNjB24DMGATYwCGZpZWxkMTUxwxBAUAh2YWx1ZTE1MXbgPAcBNTEIZmllbGQx
    NjbDEEBQCHZhbHVlMTY2duA8BwE2NgZmaWVsZDTDDjwGdmFsdWU0duAqBQFlNAZmaWVsZDDDDjwGdmFsdWUwduAqBQFlMAhmaWVs
    ZDE3MsMQQFAIdmFsdWUxNzJ24DwHATcyB2ZpZWxkNjnDD0BGB3ZhbHVlNjl24DMGATY5B2ZpZWxkNDfDD0BGB3ZhbHVlNDd24DMG
    ATQ3B2ZpZWxkNzXDD0BGB3ZhbHVlNzV24DMGATc1B2ZpZWxkNTHDD0BGB3ZhbHVlNTF24DMGATUxB2ZpZWxkMTDDD0BGB3ZhbHVl
    MTB24DMGATEwCGZpZWxkMTU2wxBAUAh2YWx1ZTE1NnbgPAcBNTYIZmllbGQxNzHDEEBQCHZhbHVlMTcxduA8BwE3MQdmaWVsZDMy
    ww9ARgd2YWx1ZTMyduAzBgEzMghmaWVsZDE0M8MQQFAIdmFsdWUxNDN24DwHATQzCGZpZWxkMTIywxBAUAh2YWx1ZTEyMnbgPAcB
    MjIIZmllbGQxOTfDEEBQCHZhbHVlMTk3duA8BwE5NwZmaWVsZDHDDjwGdmFsdWUxduAqBQFlMQhmaWVsZDExMcMQQFAIdmFsdWUx
    MTF24DwHATExCGZpZWxkMTQwwxBAUAh2YWx1ZTE0MHbgPAcBNDAIZmllbGQxODfDEEBQCHZhbHVlMTg3duA8BwE4NwhmaWVsZDEx
    OcMQQFAIdmFsdWUxMTl24DwHATE5CGZpZWxkMTEzwxBAUAh2YWx1ZTExM3bgPAcBMTMIZmllbGQxMjfDEEBQCHZhbHVlMTI3duA8
    BwEyNwhmaWVsZDEzMcMQQFAIdmFsdWUxMzF24DwHATMxBmZpZWxkOMMOPAZ2YWx1ZTh24CoFAWU4B2ZpZWxkOTfDD0BGB3ZhbHVl
    OTd24DMGATk3B2ZpZWxkMjLDD0BGB3ZhbHVlMjJ24DMGATIyB2ZpZWxkNjjDD0BGB3ZhbHVlNjh24DMGATY4B2ZpZWxkMjTDD0BG
    B3ZhbHVlMjR24DMGATI0CGZpZWxkMTI4wxBAUAh2YWx1ZTEyOHbgPAcBMjgIZmllbGQxNjjDEEBQCHZhbHVlMTY4duA8BwE2OAZm
    aWVsZDfDDjwGdmFsdWU3duAqBQFlNwZmaWVsZDbDDjwGdmFsdWU2duAqBQFlNghmaWVsZDEwN8MQQFAIdmFsdWUxMDd24DwHATA3
    CGZpZWxkMTUwwxBAUAh2YWx1ZTE1MHbgPAcBNTAIZmllbGQxMjnDEEBQCHZhbHVlMTI5duA8BwEyOQhmaWVsZDExNsMQQFAIdmFs
    dWUxMTZ24DwHATE2CGZpZWxkMTk2wxBAUAh2YWx1ZTE5NnbgPAcBOTYIZmllbGQxNjDDEEBQCHZhbHVlMTYwduA8BwE2MAhmaWVs
    ZDEyMMMQQFAIdmFsdWUxMjB24DwHATIwCGZpZWxkMTYzwxBAUAh2YWx1ZTE2M3bgPAcBNjMHZmllbGQ3OcMPQEYHdmFsdWU3OXbg
    MwYBNzkHZmllbGQ0McMPQEYHdmFsdWU0MXbgMwYBNDEIZmllbGQxMDTDEEBQCHZhbHVlMTA0duA8BwEwNAhmaWVsZDE4M8MQQFAI
    dmFsdWUxODN24DwHATgzB2ZpZWxkOTXDD0BGB3ZhbHVlOTV24DMGATk1CGZpZWxkMTM2wxBAUAh2YWx1ZTEzNnbgPAcBMzYIZmll
    bGQxNDfDEEBQCHZhbHVlMTQ3duA8BwE0NwhmaWVsZDE4NMMQQFAIdmFsdWUxODR24DwHATg0B2ZpZWxkNzbDD0BGB3ZhbHVlNzZ2
    4DMGATc2B2ZpZWxkMjbDD0BGB3ZhbHVlMjZ24DMGATI2CGZpZWxkMTQxwxBAUAh2YWx1ZTE0MXbgPAcBNDEIZmllbGQxNTfDEEBQ
    CHZhbHVlMTU3duA8BwE1NwdmaWVsZDQzww9ARgd2YWx1ZTQzduAzBgE0MwhmaWVsZDE1OcMQQFAIdmFsdWUxNTl24DwHATU5B2Zp
    ZWxkNDXDD0BGB3ZhbHVlNDV24DMGATQ1B2ZpZWxkNjPDD0BGB3ZhbHVlNjN24DMGATYzB2ZpZWxkMTLDD0BGB3ZhbHVlMTJ24DMG
    ATEyCGZpZWxkMTc4wxBAUAh2YWx1ZTE3OHbgPAcBNzgHZmllbGQ1NMMPQEYHdmFsdWU1NHbgMwYBNTQIZmllbGQxMDDDEEBQCHZh
    bHVlMTAwduA8BwEwMAdmaWVsZDk4ww9ARgd2YWx1ZTk4duAzBgE5OAdmaWVsZDU3ww9ARgd2YWx1ZTU3duAzBgE1NwdmaWVsZDE3
    ww9ARgd2YWx1ZTE3duAzBgExNwhmaWVsZDEzMMMQQFAIdmFsdWUxMzB24DwHATMwCGZpZWxkMTgwwxBAUAh2YWx1ZTE4MHbgPAcB
    ODAIZmllbGQxNDnDEEBQCHZhbHVlMTQ5duA8BwE0OQdmaWVsZDUzww9ARgd2YWx1ZTUzduAzBgE1MwhmaWVsZDE3NcMQQFAIdmFs
    dWUxNzV24DwHATc1CGZpZWxkMTY3wxBAUAh2YWx1ZTE2N3bgPAcBNjcHZmllbGQzOcMPQEYHdmFsdWUzOXbgMwYBMzkHZmllbGQ3
    McMPQEYHdmFsdWU3MXbgMwYBNzEHZmllbGQ5MMMPQEYHdmFsdWU5MHbgMwYBOTAHZmllbGQ5MsMPQEYHdmFsdWU5MnbgMwYBOTII
    ZmllbGQxOTXDEEBQCHZhbHVlMTk1duA8BwE5NQdmaWVsZDUwww9ARgd2YWx1ZTUwduAzBgE1MAdmaWVsZDE4ww9ARgd2YWx1ZTE4
    duAzBgExOAdmaWVsZDE2ww9ARgd2YWx1ZTE2duAzBgExNgdmaWVsZDIzww9ARgd2YWx1ZTIzduAzBgEyMwhmaWVsZDEyMcMQQFAI
    dmFsdWUxMjF24DwHATIxB2ZpZWxkOTHDD0BGB3ZhbHVlOTF24DMGATkxB2ZpZWxkODnDD0BGB3ZhbHVlODl24DMGATg5B2ZpZWxk
    NjfDD0BGB3ZhbHVlNjd24DMGATY3B2ZpZWxkNzjDD0BGB3ZhbHVlNzh24DMGATc4CGZpZWxkMTQ0wxBAUAh2YWx1ZTE0NHbgPAcB
    NDQHZmllbGQ0OcMPQEYHdmFsdWU0OXbgMwYBNDkHZmllbGQ4OMMPQEYHdmFsdWU4OHbgMwYBODgIZmllbGQxNjnDEEBQCHZhbHVl
    MTY5duA8BwE2OQdmaWVsZDg2ww9ARgd2YWx1ZTg2duAzBgE4NghmaWVsZDE0OMMQQFAIdmFsdWUxNDh24DwHATQ4B2ZpZWxkNTbD
    D0BGB3ZhbHVlNTZ24DMGATU2CGZpZWxkMTE0wxBAUAh2YWx1ZTExNHbgPAcBMTQHZmllbGQzN8MPQEYHdmFsdWUzN3bgMwYBMzcH
    ZmllbGQyNcMPQEYHdmFsdWUyNXbgMwYBMjUIZmllbGQxMjbDEEBQCHZhbHVlMTI2duA8BwEyNghmaWVsZDEzMsMQQFAIdmFsdWUx
    MzJ24DwHATMyB2ZpZWxkNzfDD0BGB3ZhbHVlNzd24DMGATc3B2ZpZWxkOTnDD0BGB3ZhbHVlOTl24DMGATk5CGZpZWxkMTMzwxBA
    UAh2YWx1ZTEzM3bgPAcBMzMIZmllbGQxMTLDEEBQCHZhbHVlMTEyduA8BwExMgdmaWVsZDg0ww9ARgd2YWx1ZTg0duAzBgE4NAhm
    aWVsZDE1NMMQQFAIdmFsdWUxNTR24DwHATU0CGZpZWxkMTQ1wxBAUAh2YWx1ZTE0NXbgPAcBNDUHZmllbGQ2McMPQEYHdmFsdWU2
    MXbgMwYBNjEIZmllbGQxNznDEEBQCHZhbHVlMTc5duA8BwE3OQhmaWVsZDE5NMMQQFAIdmFsdWUxOTR24DwHATk0CGZpZWxkMTI0
    wxBAUAh2YWx1ZTEyNHbgPAcBMjQCBHNzdHIDAXkBeAF6AANpbnTBOTARBnpzbWFsbCIiAAAACACBYwLf/QKBYQIBAYFiAoMyLjUE
    gWQCg2luZgT/EAZoc21hbGwcHAAAAAYAgmYxA4J2MQOCZjIDAgGCZjMD3/kC/xIGbHNtYWxsAgISEgAAAAQAgWECgWICAQHf+wL/
    Ag8PAAAAAgDycBEBBIFjAv8FBHpiaWdAyARtMTk5AAAAAACockAEbTE5OAAAAAAAkHJABG0xOTcAAAAAAHhyQARtMTk2AAAAAABg
    ckAEbTE5NQAAAAAASHJABG0xOTQAAAAAADByQARtMTkzAAAAAAAYckAEbTE5MgAAAAAAAHJABG0xOTEAAAAAAOhxQARtMTkwAAAA
    AADQcUAEbTE4OQAAAAAAuHFABG0xODgAAAAAAKBxQARtMTg3AAAAAACIcUAEbTE4NgAAAAAAcHFABG0xODUAAAAAAFhxQARtMTg0
    AAAAAABAcUAEbTE4MwAAAAAAKHFABG0xODIAAAAAABBxQARtMTgxAAAAAAD4cEAEbTE4MAAAAAAA4HBABG0xNzkAAAAAAMhwQARt
    MTc4AAAAAACwcEAEbTE3NwAAAAAAmHBABG0xNzYAAAAAAIBwQARtMTc1AAAAAABocEAEbTE3NAAAAAAAUHBABG0xNzMAAAAAADhw
    QARtMTcyAAAAAAAgcEAEbTE3MQAAAAAACHBABG0xNzAAAAAAAOBvQARtMTY5AAAAAACwb0AEbTE2OAAAAAAAgG9ABG0xNjcAAAAA
    AFBvQARtMTY2AAAAAAAgb0AEbTE2NQAAAAAA8G5ABG0xNjQAAAAAAMBuQARtMTYzAAAAAACQbkAEbTE2MgAAAAAAYG5ABG0xNjEA
    AAAAADBuQARtMTYwAAAAAAAAbkAEbTE1OQAAAAAA0G1ABG0xNTgAAAAAAKBtQARtMTU3AAAAAABwbUAEbTE1NgAAAAAAQG1ABG0x
    NTUAAAAAABBtQARtMTU0AAAAAADgbEAEbTE1MwAAAAAAsGxABG0xNTIAAAAAAIBsQARtMTUxAAAAAABQbEAEbTE1MAAAAAAAIGxA
    BG0xNDkAAAAAAPBrQARtMTQ4AAAAAADAa0AEbTE0NwAAAAAAkGtABG0xNDYAAAAAAGBrQARtMTQ1AAAAAAAwa0AEbTE0NAAAAAAA
    AGtABG0xNDMAAAAAANBqQARtMTQyAAAAAACgakAEbTE0MQAAAAAAcGpABG0xNDAAAAAAAEBqQARtMTM5AAAAAAAQakAEbTEzOAAA
    AAAA4GlABG0xMzcAAAAAALBpQARtMTM2AAAAAACAaUAEbTEzNQAAAAAAUGlABG0xMzQAAAAAACBpQARtMTMzAAAAAADwaEAEbTEz
    MgAAAAAAwGhABG0xMzEAAAAAAJBoQARtMTMwAAAAAABgaEAEbTEyOQAAAAAAMGhABG0xMjgAAAAAAABoQARtMTI3AAAAAADQZ0AE
    bTEyNgAAAAAAoGdABG0xMjUAAAAAAHBnQARtMTI0AAAAAABAZ0AEbTEyMwAAAAAAEGdABG0xMjIAAAAAAOBmQARtMTIxAAAAAACw
    ZkAEbTEyMAAAAAAAgGZABG0xMTkAAAAAAFBmQARtMTE4AAAAAAAgZkAEbTExNwAAAAAA8GVABG0xMTYAAAAAAMBlQARtMTE1AAAA
    AACQZUAEbTExNAAAAAAAYGVABG0xMTMAAAAAADBlQARtMTEyAAAAAAAAZUAEbTExMQAAAAAA0GRABG0xMTAAAAAAAKBkQARtMTA5
    AAAAAABwZEAEbTEwOAAAAAAAQGRABG0xMDcAAAAAABBkQARtMTA2AAAAAADgY0AEbTEwNQAAAAAAsGNABG0xMDQAAAAAAIBjQARt
    MTAzAAAAAABQY0AEbTEwMgAAAAAAIGNABG0xMDEAAAAAAPBiQARtMTAwAAAAAADAYkADbTk5AAAAAACQYkADbTk4AAAAAABgYkAD
    bTk3AAAAAAAwYkADbTk2AAAAAAAAYkADbTk1AAAAAADQYUADbTk0AAAAAACgYUADbTkzAAAAAABwYUADbTkyAAAAAABAYUADbTkx
    AAAAAAAQYUADbTkwAAAAAADgYEADbTg5AAAAAACwYEADbTg4AAAAAACAYEADbTg3AAAAAABQYEADbTg2AAAAAAAgYEADbTg1AAAA
    AADgX0ADbTg0AAAAAACAX0ADbTgzAAAAAAAgX0ADbTgyAAAAAADAXkADbTgxAAAAAABgXkADbTgwAAAAAAAAXkADbTc5AAAAAACg
    XUADbTc4AAAAAABAXUADbTc3AAAAAADgXEADbTc2AAAAAACAXEADbTc1AAAAAAAgXEADbTc0AAAAAADAW0ADbTczAAAAAABgW0AD
    bTcyAAAAAAAAW0ADbTcxAAAAAACgWkADbTcwAAAAAABAWkADbTY5AAAAAADgWUADbTY4AAAAAACAWUADbTY3AAAAAAAgWUADbTY2
    AAAAAADAWEADbTY1AAAAAABgWEADbTY0AAAAAAAAWEADbTYzAAAAAACgV0ADbTYyAAAAAABAV0ADbTYxAAAAAADgVkADbTYwAAAA
    AACAVkADbTU5AAAAAAAgVkADbTU4AAAAAADAVUADbTU3AAAAAABgVUADbTU2AAAAAAAAVUADbTU1AAAAAACgVEADbTU0AAAAAABA
    VEADbTUzAAAAAADgU0ADbTUyAAAAAACAU0ADbTUxAAAAAAAgU0ADbTUwAAAAAADAUkADbTQ5AAAAAABgUkADbTQ4AAAAAAAAUkAD
    bTQ3AAAAAACgUUADbTQ2AAAAAABAUUADbTQ1AAAAAADgUEADbTQ0AAAAAACAUEADbTQzAAAAAAAgUEADbTQyAAAAAACAT0ADbTQx
    AAAAAADATkADbTQwAAAAAAAATkADbTM5AAAAAABATUADbTM4AAAAAACATEADbTM3AAAAAADAS0ADbTM2AAAAAAAAS0ADbTM1AAAA
    AABASkADbTM0AAAAAACASUADbTMzAAAAAADASEADbTMyAAAAAAAASEADbTMxAAAAAABAR0ADbTMwAAAAAACARkADbTI5AAAAAADA
    RUADbTI4AAAAAAAARUADbTI3AAAAAABAREADbTI2AAAAAACAQ0ADbTI1AAAAAADAQkADbTI0AAAAAAAAQkADbTIzAAAAAABAQUAD
    bTIyAAAAAACAQEADbTIxAAAAAACAP0ADbTIwAAAAAAAAPkADbTE5AAAAAACAPEADbTE4AAAAAAAAO0ADbTE3AAAAAACAOUADbTE2
    AAAAAAAAOEADbTE1AAAAAACANkADbTE0AAAAAAAANUADbTEzAAAAAACAM0ADbTEyAAAAAAAAMkADbTExAAAAAACAMEADbTEwAAAA
    AAAALkACbTkAAAAAAAArQAJtOAAAAAAAAChAAm03AAAAAAAAJUACbTYAAAAAAAAiQAJtNQAAAAAAAB5AAm00AAAAAAAAGEACbTMA
    AAAAAAASQAJtMgAAAAAAAAhAAm0xAAAAAAAA+D8CbTAAAAAAAAAAAAADc3RyBWhlbGxv/J1LJg6iAQAAAAN2b2wBdgsEc2ludMMs
    OAQIAAAABiADAZz/gAAAASALQAAAAkAEIAAAAyADQAABoIagGQLyBSogCQAAEgZscGxhaW4DAg4OAAAAAQCFc2hvcnQG/wEiYS12
    ZXJ5LWxvbmctZWxlbWVudC1vdmVyLXRocmVzaG9sZAIKCgAAAAEAgXoC//4C+wEAAAVpbmRiMgN5ZXP/he01/lgZ3zU=
    """

/// Standard base64 without line breaks' significance (the fixture is wrapped).
func decodeBase64(_ text: String) -> [UInt8] {
    var table = [Int](repeating: -1, count: 256)
    for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = i }
    var out: [UInt8] = []
    var acc = 0, bits = 0
    for c in text.utf8 {
        let v = table[Int(c)]
        if v < 0 { continue }   // newlines, spaces and '=' padding
        acc = acc << 6 | v
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8((acc >> bits) & 0xff))
        }
    }
    return out
}

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Every record of `bytes`, keyed by "db:key".
func readAll(_ bytes: [UInt8]) throws -> ([String: RDBReader.Record], RDBReader) {
    var reader = RDBReader(bytes)
    var records: [String: RDBReader.Record] = [:]
    try reader.read { r in records["\(r.db):\(String(decoding: r.key, as: UTF8.self))"] = r }
    return (records, reader)
}

@Suite struct RDBRedisFixtureTests {
    @Test func headerAuxAndChecksum() throws {
        let (records, reader) = try readAll(decodeBase64(redis7Dump))
        #expect(records.count == 14)
        #expect(reader.version == 10)
        #expect(reader.auxField("redis-ver") == "7.0.15")
        #expect(reader.auxField("redis-bits") == "64")
        #expect(reader.auxField("aof-base") == "0")
        #expect(reader.checksumVerified)
    }

    @Test func strings() throws {
        let (r, _) = try readAll(decodeBase64(redis7Dump))
        #expect(r["0:str"]?.value == .string(b("hello")))
        #expect(r["0:int"]?.value == .string(b("12345")))
        #expect(r["0:big"]?.value == .string([UInt8](repeating: UInt8(ascii: "x"), count: 100)))
        #expect(r["0:vol"]?.value == .string(b("v")))
        #expect((r["0:vol"]?.expireAt ?? 0) > 1_700_000_000_000)
        #expect(r["0:str"]?.expireAt == nil)
        #expect(r["2:indb2"]?.value == .string(b("yes")))
    }

    @Test func lists() throws {
        let (r, _) = try readAll(decodeBase64(redis7Dump))
        #expect(r["0:lsmall"]?.value == .list(["a", "b", "1", "-5", "70000", "c"].map(b)))
        #expect(r["0:lbig"]?.value == .list((0..<20).map { i in b(String(repeating: "item\(i)", count: 3)) }))
        #expect(r["0:lplain"]?.value == .list(["short", "a-very-long-element-over-threshold", "z"].map(b)))
    }

    @Test func sets() throws {
        let (r, _) = try readAll(decodeBase64(redis7Dump))
        guard case .set(let ints)? = r["0:sint"]?.value, case .set(let strs)? = r["0:sstr"]?.value else {
            Issue.record("sets missing or of another type")
            return
        }
        #expect(ints == ["-100", "1", "2", "3", "100000", "5000000000"].map(b))   // intset order
        #expect(Set(strs) == Set(["x", "y", "z"].map(b)))
    }

    @Test func hashes() throws {
        let (r, _) = try readAll(decodeBase64(redis7Dump))
        #expect(r["0:hsmall"]?.value == .hash([(b("f1"), b("v1")), (b("f2"), b("2")), (b("f3"), b("-7"))]))
        guard case .hash(let big)? = r["0:hbig"]?.value else {
            Issue.record("hbig missing or of another type")
            return
        }
        #expect(big.count == 200)
        var expected: [[UInt8]: [UInt8]] = [:]
        for i in 0..<200 { expected[b("field\(i)")] = b(String(repeating: "value\(i)", count: 10)) }
        for (f, v) in big { #expect(expected[f] == v) }
        #expect(Set(big.map(\.0)) == Set(expected.keys))
    }

    @Test func sortedSets() throws {
        let (r, _) = try readAll(decodeBase64(redis7Dump))
        #expect(r["0:zsmall"]?.value == .zset([(b("c"), -3), (b("a"), 1), (b("b"), 2.5), (b("d"), .infinity)]))
        guard case .zset(let big)? = r["0:zbig"]?.value else {
            Issue.record("zbig missing or of another type")
            return
        }
        #expect(big.count == 200)
        for (m, score) in big {
            let i = Int(String(decoding: m.dropFirst(), as: UTF8.self))!
            #expect(score == Double(i) * 1.5)
        }
    }

    /// What we write from what Redis wrote decodes to the same records.
    @Test func rewriteKeepsEveryRecord() throws {
        let (original, _) = try readAll(decodeBase64(redis7Dump))
        var w = RDBWriter()
        for d in [0, 2] {
            let inDB = original.values.filter { $0.db == d }
            w.selectDB(d, keys: inDB.count, expires: inDB.filter { $0.expireAt != nil }.count)
            for rec in inDB.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                rec.key.withUnsafeBytes { w.entry(key: $0, value: rec.value, expireAt: rec.expireAt) }
            }
        }
        let (again, _) = try readAll(w.finish())
        #expect(again.count == original.count)
        for (k, rec) in original {
            guard let other = again[k] else { Issue.record("\(k) lost"); continue }
            #expect(other.expireAt == rec.expireAt)
            switch (rec.value, other.value) {
            case let (.zset(x), .zset(y)):
                // ZSET_2 is written highest score first, as Redis writes skiplists.
                #expect(Set(x.map(\.0)) == Set(y.map(\.0)))
                #expect(Dictionary(uniqueKeysWithValues: x) == Dictionary(uniqueKeysWithValues: y))
            default:
                #expect(rec.value == other.value, "\(k)")
            }
        }
    }
}
