import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { awsErrorFacts, toProviderError } from "./aws-error.js";

/**
 * The security group that lets the controller reach instances over SSH. A default VPC's default
 * group admits nothing from outside, so without one the first `transport()` would just time out.
 * Made once per region in the default VPC (by name, which EC2 scopes to the default VPC), with
 * TCP 22 open to `cidr`; users with their own network set SPOTRUN_AWS_SECURITY_GROUP_IDS instead.
 */
export const SSH_GROUP_NAME = "spotrun-ssh";

async function findGroup(ec2: EC2Client): Promise<string | undefined> {
  try {
    const res = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: [SSH_GROUP_NAME] }));
    return res.SecurityGroups?.[0]?.GroupId;
  } catch (e) {
    if (awsErrorFacts(e).code === "InvalidGroup.NotFound") return undefined;
    throw toProviderError(e, "DescribeSecurityGroups");
  }
}

export async function ensureSshSecurityGroup(ec2: EC2Client, cidr: string, tags: Record<string, string>): Promise<string> {
  const existing = await findGroup(ec2);
  if (existing) return existing;
  let groupId: string | undefined;
  try {
    const res = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: SSH_GROUP_NAME,
        Description: "spotrun: SSH from the controller to its instances",
        TagSpecifications: [
          { ResourceType: "security-group", Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        ],
      }),
    );
    groupId = res.GroupId;
  } catch (e) {
    // Another spotrun made it between our look and our create.
    if (awsErrorFacts(e).code !== "InvalidGroup.Duplicate") throw toProviderError(e, "CreateSecurityGroup");
    groupId = await findGroup(ec2);
  }
  if (!groupId)
    throw toProviderError(
      Object.assign(new Error("security group vanished after creation"), { name: "InvalidGroup.NotFound" }),
      "CreateSecurityGroup",
    );
  try {
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: cidr, Description: "spotrun ssh" }] },
        ],
      }),
    );
  } catch (e) {
    if (awsErrorFacts(e).code !== "InvalidPermission.Duplicate") throw toProviderError(e, "AuthorizeSecurityGroupIngress");
  }
  return groupId;
}
