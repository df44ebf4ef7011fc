"""Run the Pulumi program against moto, the AWS emulator: every resource is created through the AWS API
(as botocore validates it and moto models it), with no AWS account and no Pulumi CLI."""
