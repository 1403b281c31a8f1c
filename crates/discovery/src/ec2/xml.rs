//! The XML answers of the EC2 and STS query APIs, as serde structs for
//! `quick-xml`. Only the fields discovery uses are declared; serde skips
//! the rest. AWS wraps lists as `<fooSet><item>…</item></fooSet>`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::credentials::{AwsCredentials, parse_rfc3339};

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Items<T> {
    #[serde(rename = "item", default = "Vec::new")]
    pub items: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeInstances {
    #[serde(rename = "reservationSet", default)]
    reservation_set: Items<Reservation>,
    #[serde(default)]
    pub next_token: Option<String>,
    #[serde(skip)]
    pub reservations: Vec<Reservation>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Reservation {
    #[serde(default)]
    pub owner_id: String,
    #[serde(rename = "instancesSet", default)]
    instances_set: Items<Instance>,
    #[serde(skip)]
    pub instances: Vec<Instance>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Instance {
    #[serde(default)]
    pub instance_id: String,
    pub image_id: Option<String>,
    #[serde(default)]
    pub instance_state: InstanceState,
    #[serde(default)]
    pub instance_type: String,
    pub private_dns_name: Option<String>,
    pub dns_name: Option<String>,
    pub private_ip_address: Option<String>,
    pub ip_address: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub architecture: Option<String>,
    pub platform: Option<String>,
    pub instance_lifecycle: Option<String>,
    #[serde(default)]
    pub placement: Placement,
    #[serde(rename = "networkInterfaceSet", default)]
    pub network_interfaces: Items<NetworkInterface>,
    #[serde(rename = "tagSet", default)]
    pub tags: Items<Tag>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct InstanceState {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Placement {
    #[serde(default)]
    pub availability_zone: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkInterface {
    pub subnet_id: Option<String>,
    #[serde(rename = "ipv6AddressesSet", default)]
    pub ipv6_addresses: Items<Ipv6Address>,
    #[serde(default)]
    pub attachment: Attachment,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment {
    #[serde(default)]
    pub device_index: i64,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ipv6Address {
    #[serde(default)]
    pub ipv6_address: String,
    #[serde(default)]
    pub is_primary_ipv6: bool,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Tag {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Parses a `DescribeInstancesResponse` page.
pub(crate) fn parse_describe_instances(body: &str) -> Result<DescribeInstances, String> {
    let mut d: DescribeInstances = quick_xml::de::from_str(body).map_err(|e| e.to_string())?;
    d.reservations = std::mem::take(&mut d.reservation_set.items);
    for r in &mut d.reservations {
        r.instances = std::mem::take(&mut r.instances_set.items);
    }
    Ok(d)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeAzs {
    #[serde(rename = "availabilityZoneInfo", default)]
    zones: Items<Az>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Az {
    #[serde(default)]
    zone_name: String,
    #[serde(default)]
    zone_id: String,
}

/// Parses `DescribeAvailabilityZonesResponse` into zone name → zone ID.
pub(crate) fn parse_availability_zones(body: &str) -> Result<BTreeMap<String, String>, String> {
    let d: DescribeAzs = quick_xml::de::from_str(body).map_err(|e| e.to_string())?;
    Ok(d.zones
        .items
        .into_iter()
        .map(|z| (z.zone_name, z.zone_id))
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResponse {
    assume_role_result: AssumeRoleResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResult {
    credentials: StsCredentials,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: Option<String>,
}

/// Parses an STS `AssumeRoleResponse` into credentials.
pub(crate) fn parse_assume_role(body: &str) -> Result<AwsCredentials, String> {
    let r: AssumeRoleResponse = quick_xml::de::from_str(body).map_err(|e| e.to_string())?;
    let c = r.assume_role_result.credentials;
    Ok(AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expires: c.expiration.as_deref().and_then(parse_rfc3339),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_instances_page() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet><item>
    <reservationId>r-1</reservationId><ownerId>123</ownerId>
    <instancesSet><item>
      <instanceId>i-1</instanceId><imageId>ami-1</imageId>
      <instanceState><code>16</code><name>running</name></instanceState>
      <instanceType>t3.small</instanceType>
      <placement><availabilityZone>eu-west-1a</availabilityZone></placement>
      <privateIpAddress>10.0.0.5</privateIpAddress>
      <vpcId>vpc-1</vpcId><subnetId>subnet-1</subnetId>
      <networkInterfaceSet><item><subnetId>subnet-1</subnetId>
        <attachment><deviceIndex>0</deviceIndex></attachment>
        <ipv6AddressesSet/></item></networkInterfaceSet>
      <tagSet><item><key>Name</key><value>web-1</value></item></tagSet>
    </item></instancesSet>
  </item></reservationSet>
  <nextToken>n</nextToken>
</DescribeInstancesResponse>"#;
        let d = parse_describe_instances(body).unwrap();
        assert_eq!(d.next_token.as_deref(), Some("n"));
        let i = &d.reservations[0].instances[0];
        assert_eq!(d.reservations[0].owner_id, "123");
        assert_eq!(i.instance_state.name, "running");
        assert_eq!(i.tags.items[0].value, "web-1");
        assert_eq!(
            i.network_interfaces.items[0].subnet_id.as_deref(),
            Some("subnet-1")
        );
        assert!(parse_describe_instances("<oops").is_err());
        let empty = parse_describe_instances("<DescribeInstancesResponse/>").unwrap();
        assert!(empty.reservations.is_empty());
    }

    #[test]
    fn zones_and_sts() {
        let z = parse_availability_zones(
            "<R><availabilityZoneInfo><item><zoneName>a</zoneName><zoneId>use1-az1</zoneId></item></availabilityZoneInfo></R>",
        )
        .unwrap();
        assert_eq!(z["a"], "use1-az1");
        let c = parse_assume_role(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken><Expiration>2031-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>",
        )
        .unwrap();
        assert_eq!(c.access_key_id, "A");
        assert!(c.expires.is_some());
    }
}
